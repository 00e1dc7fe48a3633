namespace SplitEmu.CpuHost.Platform;

/// <summary>The destination shorthand of an IPI (ICR bits 18-19); messages from the I/O APIC use <see cref="None"/>.</summary>
public enum ApicShorthand : byte
{
    /// <summary>The destination field and destination mode say who receives it.</summary>
    None = 0,

    /// <summary>Only the sending local APIC.</summary>
    Self = 1,

    /// <summary>Every local APIC, the sender included.</summary>
    AllIncludingSelf = 2,

    /// <summary>Every local APIC but the sender.</summary>
    AllExcludingSelf = 3,
}
