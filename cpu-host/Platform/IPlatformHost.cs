using SplitEmu.CpuHost.Dispatch;

namespace SplitEmu.CpuHost.Platform;

/// <summary>
/// What the CPU process's own platform devices need from the machine that composes them: the bus their
/// configuration cycles go through, a place for the interrupt controller, and the reset line. The machine
/// implements it, so the platform never depends on the machine that is built from it.
/// </summary>
internal interface IPlatformHost
{
    /// <summary>The machine's buses (the host bridge turns port accesses into configuration cycles on it).</summary>
    MachineBus Bus { get; }

    /// <summary>Makes <paramref name="pic"/> the CPU's interrupt source, and returns it.</summary>
    DualPic8259 AttachInterruptController(DualPic8259 pic);

    /// <summary>
    /// Makes an I/O APIC on the machine's APIC bus (the machine has local APICs when it has one) the destination of the
    /// ISA interrupt lines besides the 8259s, and returns it.
    /// </summary>
    IoApic AttachIoApic();

    /// <summary>The interrupt controller's output may have risen (any thread): the CPU looks, a halted vCPU wakes.</summary>
    void InterruptMayBePending();

    /// <summary>Asks for a machine reset, taken at the CPU's next instruction boundary.</summary>
    void RequestReset(string requestedBy);
}
