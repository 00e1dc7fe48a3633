namespace SplitEmu.CpuHost.Cpu;

/// <summary>The CPU's INTR source (an 8259 PIC or an APIC), polled between instructions when events are pending.</summary>
public interface IInterruptController
{
    /// <summary>True when a maskable interrupt is waiting for the CPU.</summary>
    bool HasPendingInterrupt { get; }

    /// <summary>The INTA cycle: returns the vector of the highest-priority pending interrupt and marks it in service.</summary>
    byte AcknowledgeInterrupt();
}
