namespace SplitEmu.CpuHost.Cpu;

/// <summary>
/// What the CPU itself knows of its local APIC: the IA32_APIC_BASE MSR (0x1B) and the initial APIC ID that CPUID
/// leaf 1 reports in EBX bits 31-24. The APIC's registers are memory-mapped and reached through the bus.
/// </summary>
public interface ICpuLocalApic
{
    /// <summary>The initial APIC ID (the vCPU's index).</summary>
    byte InitialId { get; }

    /// <summary>IA32_APIC_BASE: the base address, bit 8 for the bootstrap processor, bit 11 global enable.</summary>
    ulong BaseMsr { get; }

    /// <summary>WRMSR to IA32_APIC_BASE; false when the value is refused (the CPU raises #GP).</summary>
    bool TryWriteBaseMsr(ulong value);
}
