namespace SplitEmu.CpuHost.Platform;

/// <summary>
/// The delivery mode of an interrupt message on the APIC bus (ICR bits 8-10, I/O APIC redirection entry bits
/// 8-10, LVT bits 8-10), with the encodings of the SDM vol. 3 §10.6.1 and the 82093AA data sheet.
/// </summary>
public enum ApicDeliveryMode : byte
{
    /// <summary>Deliver the vector to every destination.</summary>
    Fixed = 0,

    /// <summary>Deliver the vector to the one destination with the lowest arbitration priority.</summary>
    LowestPriority = 1,

    /// <summary>System management interrupt (not modelled: ignored).</summary>
    Smi = 2,

    /// <summary>Non-maskable interrupt; the vector is ignored.</summary>
    Nmi = 4,

    /// <summary>INIT: the destination resets its APIC and waits for a start-up IPI.</summary>
    Init = 5,

    /// <summary>Start-up IPI (ICR only): the vector is the start page of a waiting application processor.</summary>
    Startup = 6,

    /// <summary>External interrupt: the processor takes the vector from the 8259 with an INTA cycle.</summary>
    ExtInt = 7,
}
