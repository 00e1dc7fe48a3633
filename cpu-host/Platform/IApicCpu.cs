namespace SplitEmu.CpuHost.Platform;

/// <summary>
/// What a local APIC needs from the processor it belongs to: the signals that do not go through the
/// INTA cycle (<see cref="Cpu.IInterruptController"/>), and a nudge to look at the APIC again. The vCPU
/// implements it.
/// </summary>
/// <remarks>
/// Every method may be called from any thread (another vCPU's ICR write, the I/O APIC's caller, a timer on
/// the vCPU's own loop), never with an APIC lock held, and must return quickly: record the event, wake the
/// vCPU if it is halted or waiting, and act on it at the vCPU's next instruction boundary.
/// </remarks>
public interface IApicCpu
{
    /// <summary>
    /// A maskable interrupt may have become deliverable (an IRR bit rose above the processor priority, an
    /// ExtINT request opened, or the APIC timer's deadline moved earlier): look at
    /// <see cref="LocalApic.HasPendingInterrupt"/> and <see cref="LocalApic.NextTimerDeadline"/> again, and
    /// leave HLT if halted. Spurious calls are allowed.
    /// </summary>
    void InterruptMayBePending();

    /// <summary>An NMI was accepted (an NMI message, or LINT1 programmed as NMI): latch it; it is edge-triggered.</summary>
    void Nmi();

    /// <summary>
    /// An INIT was accepted: the local APIC has already reset itself (keeping its ID and the APIC base MSR).
    /// An application processor goes to the wait-for-SIPI state; the bootstrap processor (see
    /// <see cref="LocalApic.IsBootstrapProcessor"/>) restarts at the reset vector, as INIT does on hardware.
    /// </summary>
    void Init();

    /// <summary>
    /// A start-up IPI was accepted while the processor waited for one (the APIC passes at most one per INIT):
    /// start in real mode at CS = <paramref name="vector"/> &lt;&lt; 8, IP = 0 (physical address vector &lt;&lt; 12).
    /// </summary>
    void Startup(byte vector);
}
