using SplitEmu.CpuHost.Cpu;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// One virtual CPU of a machine: its interpreter, the event that wakes its thread, and where it is in the
/// multiprocessor start-up protocol (Intel MultiProcessor Specification 1.4, appendix B): the bootstrap processor
/// (index 0) runs from power-on, every application processor waits until an INIT and then a start-up IPI reach it.
/// </summary>
/// <remarks>
/// Threads: <see cref="Init"/>, <see cref="Startup"/>, <see cref="Signal"/> and <see cref="InterruptMayBePending"/>
/// are called from any thread (another vCPU's local APIC, a device's interrupt); they only record the request and
/// end the vCPU's run slice. The vCPU's own thread applies start signals at an instruction boundary
/// (<see cref="TakeStartSignals"/>), so the interpreter's state is only ever touched by that thread.
/// </remarks>
internal sealed class Vcpu : Platform.IApicCpu, IDisposable
{
    private readonly Lock _gate = new();
    private readonly AutoResetEvent _wake = new(initialState: false);
    private bool _initPending;
    private int _startupVector = -1;
    private volatile bool _waitingForStartup;

    public Vcpu(int index, X86Cpu cpu)
    {
        Index = index;
        Cpu = cpu;
        _waitingForStartup = !IsBootstrap;
    }

    /// <summary>Position in the machine, and the local APIC ID it has at power-on.</summary>
    public int Index { get; }

    /// <summary>Whether this is the bootstrap processor, the one that runs from power-on.</summary>
    public bool IsBootstrap => Index == 0;

    /// <summary>The interpreter (and translator) of this vCPU.</summary>
    public X86Cpu Cpu { get; }

    /// <summary>This vCPU's local APIC, when the machine has local APICs (its interrupt source then).</summary>
    public Platform.LocalApic? Apic { get; set; }

    /// <summary>When this vCPU's APIC timer next fires on the machine clock, or <see cref="long.MaxValue"/>.</summary>
    public long ApicTimerDeadline => Apic?.NextTimerDeadline ?? long.MaxValue;

    /// <summary>Raises this vCPU's APIC timer interrupt if it is due at <paramref name="nowNanoseconds"/> (its own thread).</summary>
    public void RunDueApicTimer(long nowNanoseconds)
    {
        if (Apic is { } apic && apic.NextTimerDeadline <= nowNanoseconds)
        {
            apic.RunDue(nowNanoseconds);
        }
    }

    /// <summary>Whether this vCPU waits for a start-up IPI (an application processor after power-on, reset or INIT).</summary>
    public bool WaitingForStartup => _waitingForStartup;

    /// <summary>Ends the current run slice and wakes the thread if it sleeps (a pause, an exit, a due timer). Thread-safe.</summary>
    public void Signal()
    {
        Cpu.RequestStop();
        _wake.Set();
    }

    /// <summary>An interrupt may be waiting for this vCPU: it looks at its next instruction boundary, or wakes from HLT. Thread-safe.</summary>
    public void InterruptMayBePending()
    {
        Cpu.NotifyInterruptPending();
        _wake.Set();
    }

    /// <summary>An NMI reached this vCPU: latched, delivered at its next instruction boundary, and it leaves HLT. Thread-safe.</summary>
    public void Nmi()
    {
        Cpu.RaiseNmi();
        _wake.Set();
    }

    /// <summary>
    /// Whether something would end HLT now (its own thread): a latched NMI, or an interrupt its controller offers
    /// while EFLAGS.IF lets it in. With IF clear a pending interrupt wakes nothing, so the vCPU sleeps instead of
    /// spinning on it (only an NMI, INIT or start-up IPI can wake it then, and each of those signals the vCPU).
    /// </summary>
    public bool HasWakeEvent =>
        Cpu.NmiPending || ((Cpu.State.Eflags & EflagsBits.IF) != 0 && Cpu.InterruptController?.HasPendingInterrupt == true);

    /// <summary>Sleeps until <see cref="Signal"/>, <see cref="InterruptMayBePending"/> or a start signal, or <paramref name="milliseconds"/>.</summary>
    public void Sleep(int milliseconds) => _wake.WaitOne(milliseconds);

    /// <summary>
    /// An INIT reached this vCPU: at its next instruction boundary it resets; an application processor then waits for
    /// a start-up IPI, the bootstrap processor restarts at the reset vector (<see cref="Platform.IApicCpu.Init"/>).
    /// Thread-safe.
    /// </summary>
    public void Init()
    {
        lock (_gate)
        {
            _initPending = true;
            _startupVector = -1; // a start-up IPI counts only after the INIT it follows
        }

        Signal();
    }

    /// <summary>
    /// A start-up IPI with <paramref name="vector"/> reached this vCPU while it waited for one: it starts in real mode
    /// at <c>vector:0000</c> (physical address vector × 4 KiB). The local APIC passes at most one per INIT and
    /// ignores the rest, as the MP specification says (<see cref="Platform.IApicCpu.Startup"/>). Thread-safe.
    /// </summary>
    public void Startup(byte vector)
    {
        lock (_gate)
        {
            _startupVector = vector;
        }

        Signal();
    }

    /// <summary>
    /// Applies a pending INIT and start-up IPI, in that order (vCPU thread, at an instruction boundary). The local
    /// APIC has reset itself when it passed the INIT on.
    /// </summary>
    public void TakeStartSignals()
    {
        bool init;
        int vector;
        lock (_gate)
        {
            init = _initPending;
            vector = _startupVector;
            _initPending = false;
            _startupVector = -1;
            if (init)
            {
                _waitingForStartup = !IsBootstrap;
            }

            if (vector >= 0)
            {
                _waitingForStartup = false;
            }
        }

        if (init)
        {
            Cpu.Reset();
        }

        if (vector >= 0)
        {
            Cpu.StartAt((byte)vector);
        }
    }

    /// <summary>Back to the power-on state of its kind (vCPU thread, or while the thread is parked): the BSP runs, an AP waits.</summary>
    public void PowerOn()
    {
        lock (_gate)
        {
            _initPending = false;
            _startupVector = -1;
            _waitingForStartup = !IsBootstrap;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _wake.Dispose();
}
