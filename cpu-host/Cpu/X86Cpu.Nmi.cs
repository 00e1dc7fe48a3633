namespace SplitEmu.CpuHost.Cpu;

public sealed partial class X86Cpu
{
    /// <summary>An NMI was latched and not yet delivered (NMIs are edge-triggered: two before delivery are one).</summary>
    private volatile bool _nmiPending;

    /// <summary>Whether an NMI is latched and waits for delivery (for tests and the monitor).</summary>
    public bool NmiPending => _nmiPending;

    /// <summary>
    /// Latches a non-maskable interrupt (the local APIC's NMI message or LINT1): delivered through IDT vector 2 at the
    /// next instruction boundary whatever EFLAGS.IF says, unless an NMI handler still runs (until its IRET).
    /// It wakes the CPU from HLT. Thread-safe.
    /// </summary>
    public void RaiseNmi()
    {
        _nmiPending = true;
        _eventsPending = 1;
    }

    /// <summary>Delivers the latched NMI unless blocked (vCPU thread, at an instruction boundary). True when Run must return.</summary>
    private bool TryDeliverNmi(ref CpuStopReason reason)
    {
        if (_state.NmiBlocked)
        {
            return false; // the handler's IRET re-arms it (UnblockNmi)
        }

        if (_runExecuted < _interruptShadowUntil)
        {
            _eventsPending = 1; // a MOV SS / POP SS / STI shadow holds it for one instruction
            return false;
        }

        _nmiPending = false;
        _state.Halted = false;
        _state.NmiBlocked = true;
        DeliverExternalInterrupt((byte)ExceptionVector.Nmi);
        if (_shutdown)
        {
            reason = CpuStopReason.Shutdown;
            return true;
        }

        return false;
    }

    /// <summary>IRET ends the NMI handler: a latched NMI may now be delivered.</summary>
    private void UnblockNmi()
    {
        if (!_state.NmiBlocked)
        {
            return;
        }

        _state.NmiBlocked = false;
        if (_nmiPending)
        {
            _eventsPending = 1;
        }
    }
}
