using SplitEmu.CpuHost.Cpu;

namespace SplitEmu.CpuHost.Platform;

/// <summary>
/// One processor's local APIC in xAPIC mode (Intel SDM vol. 3 ch. 10): the 4 KiB register page, the IRR/ISR/TMR
/// priority logic with TPR and PPR, EOI, the spurious-interrupt vector register, six LVT entries (timer, thermal,
/// performance counter, LINT0, LINT1, error), the timer, the ICR that sends IPIs over its <see cref="ApicBus"/>,
/// and the IA32_APIC_BASE MSR. It is the vCPU's one interrupt source (<see cref="IInterruptController"/>): it
/// answers for its own vectors and, when LINT0 is programmed ExtINT or the APIC is hardware-disabled, for the 8259
/// (<see cref="ApicBus.ExternalInterruptSource"/>).
/// </summary>
/// <remarks>
/// <para>
/// Identity: version 0x00050014 (an integrated APIC with six LVT entries, as QEMU reports), ID = the vCPU index at
/// power-on and after INIT (the ID register is writable, as on P6-class xAPICs, and the bus matches on its current
/// value). EOI-broadcast suppression and x2APIC are not offered.
/// </para>
/// <para>
/// Priority (SDM §10.8.3.1): PPR is TPR when TPR[7:4] ≥ the class of the highest ISR vector, otherwise that class.
/// The highest IRR vector is presented when its class is above PPR's. Acknowledging it moves it to the ISR;
/// an EOI clears the highest ISR bit and, when that vector's TMR bit is set (a level-triggered message), is
/// broadcast to the I/O APICs so they clear Remote IRR. When nothing is presentable at acknowledge time (the TPR
/// was raised, the APIC was disabled) the vector of the spurious-interrupt register is returned, ISR untouched.
/// </para>
/// <para>
/// Software disable (SVR bit 8 clear, the power-on state): every LVT mask bit is set and cannot be cleared, fixed
/// and lowest-priority messages are not accepted, IRR and ISR are held but nothing is presented; INIT, start-up and
/// NMI messages are still accepted (SDM §10.4.7.2). Hardware disable (IA32_APIC_BASE bit 11 clear): the APIC takes
/// no messages, its page reads as zero, and the 8259 reaches the processor directly; setting the bit again leaves
/// the APIC in its INIT state.
/// </para>
/// <para>
/// Power-on (<see cref="Reset"/>) is the SDM's state (SVR 0xFF, every LVT masked, DFR all ones, IRR/ISR clear),
/// with one exception taken from QEMU: the bootstrap processor's LINT0 starts as ExtINT, unmasked (0x700), the
/// virtual-wire mode a PC BIOS programs. A directly booted guest has no BIOS, and the 8259 must reach the BSP until
/// the OS programs its APIC; an INIT (or an OS write) replaces it. Application processors start waiting for a
/// start-up IPI; the BSP does not.
/// </para>
/// <para>
/// Timer: counts at <see cref="TimerBaseFrequencyHz"/> divided by the divide configuration, computed from the
/// machine clock (the count is never stored, so reading it costs nothing and needs no thread). The vCPU loop
/// sleeps no later than <see cref="NextTimerDeadline"/> and calls <see cref="RunDue"/>. A periodic timer whose
/// vCPU was late by several periods raises one interrupt (the IRR has one bit per vector) and keeps its phase.
/// Writing 0 to the initial count stops it. TSC-deadline mode is not offered (LVT timer bit 18 reads 0).
/// </para>
/// <para>
/// Threads: every method may be called from any thread; all state is under this APIC's lock. Calls to the
/// <see cref="IApicCpu"/>, to the bus (an ICR write, an EOI broadcast) and to the 8259 are made after the lock is
/// released, so no thread ever holds two APICs' locks and A sending to B while B sends to A cannot deadlock.
/// </para>
/// </remarks>
public sealed class LocalApic : IInterruptController, ICpuLocalApic
{
    /// <summary>The value of the version register: version 0x14, highest LVT entry 5 (six entries).</summary>
    public const uint Version = 0x0005_0014;

    /// <summary>
    /// Frequency of the timer before the divider: 1 GHz, one tick per machine-clock nanosecond. QEMU's APIC counts
    /// in nanoseconds of its virtual clock too (and KVM's default APIC bus cycle is 1 ns), so guests tuned on QEMU
    /// see the same rates; the exact value does not matter to an OS, which calibrates the timer against the PIT.
    /// </summary>
    public const long TimerBaseFrequencyHz = 1_000_000_000;

    /// <summary>Register offsets in the 4 KiB page (SDM table 10-1).</summary>
    public static class Registers
    {
        /// <summary>Local APIC ID (bits 24-31).</summary>
        public const int Id = 0x20;

        /// <summary>Version (read-only).</summary>
        public const int Version = 0x30;

        /// <summary>Task priority.</summary>
        public const int Tpr = 0x80;

        /// <summary>Arbitration priority (read-only).</summary>
        public const int Apr = 0x90;

        /// <summary>Processor priority (read-only).</summary>
        public const int Ppr = 0xA0;

        /// <summary>End of interrupt (write-only).</summary>
        public const int Eoi = 0xB0;

        /// <summary>Remote read (reads as 0).</summary>
        public const int RemoteRead = 0xC0;

        /// <summary>Logical destination (bits 24-31).</summary>
        public const int Ldr = 0xD0;

        /// <summary>Destination format (model in bits 28-31; the rest read as ones).</summary>
        public const int Dfr = 0xE0;

        /// <summary>Spurious-interrupt vector (vector, bit 8 APIC software enable, bit 9 focus checking).</summary>
        public const int Svr = 0xF0;

        /// <summary>In-service register, eight dwords 16 bytes apart.</summary>
        public const int Isr = 0x100;

        /// <summary>Trigger mode register, eight dwords 16 bytes apart.</summary>
        public const int Tmr = 0x180;

        /// <summary>Interrupt request register, eight dwords 16 bytes apart.</summary>
        public const int Irr = 0x200;

        /// <summary>Error status (write to latch, then read).</summary>
        public const int Esr = 0x280;

        /// <summary>Interrupt command, low dword (writing it sends the IPI).</summary>
        public const int IcrLow = 0x300;

        /// <summary>Interrupt command, high dword (destination in bits 24-31).</summary>
        public const int IcrHigh = 0x310;

        /// <summary>LVT timer.</summary>
        public const int LvtTimer = 0x320;

        /// <summary>LVT thermal sensor (stored; never fires).</summary>
        public const int LvtThermal = 0x330;

        /// <summary>LVT performance counter (stored; never fires).</summary>
        public const int LvtPerformance = 0x340;

        /// <summary>LVT LINT0.</summary>
        public const int LvtLint0 = 0x350;

        /// <summary>LVT LINT1.</summary>
        public const int LvtLint1 = 0x360;

        /// <summary>LVT error.</summary>
        public const int LvtError = 0x370;

        /// <summary>Timer initial count.</summary>
        public const int TimerInitialCount = 0x380;

        /// <summary>Timer current count (read-only).</summary>
        public const int TimerCurrentCount = 0x390;

        /// <summary>Timer divide configuration (bits 0, 1 and 3).</summary>
        public const int TimerDivide = 0x3E0;
    }

    /// <summary>IA32_APIC_BASE bit 8: this is the bootstrap processor (read-only).</summary>
    public const ulong ApicBaseBsp = 1 << 8;

    /// <summary>IA32_APIC_BASE bit 11: the APIC is hardware-enabled.</summary>
    public const ulong ApicBaseEnable = 1 << 11;

    /// <summary>The one base address of the register page (IA32_APIC_BASE bits 12-35); relocation is refused.</summary>
    public const ulong DefaultBase = 0xFEE0_0000;

    /// <summary>LVT bit 16: masked.</summary>
    public const uint LvtMasked = 1 << 16;

    /// <summary>LVT timer bit 17: periodic mode.</summary>
    public const uint LvtTimerPeriodic = 1 << 17;

    /// <summary>SVR bit 8: APIC software enable.</summary>
    public const uint SvrEnable = 1 << 8;

    /// <summary>ESR bit 5: an IPI with an illegal vector (0-15) was not sent.</summary>
    public const uint ErrorSendIllegalVector = 1 << 5;

    /// <summary>ESR bit 6: an interrupt with an illegal vector (0-15) was received and dropped.</summary>
    public const uint ErrorReceiveIllegalVector = 1 << 6;

    /// <summary>Machine-clock nanoseconds per cycle of the timer's base clock.</summary>
    private const long NanosecondsPerTimerCycle = 1_000_000_000 / TimerBaseFrequencyHz;

    private const int LvtCount = 6;
    private const int TimerLvt = 0;
    private const int Lint0Lvt = 3;
    private const int Lint1Lvt = 4;
    private const int ErrorLvt = 5;

    /// <summary>Bits the guest may write in each LVT entry, by index (timer, thermal, perf, LINT0, LINT1, error).</summary>
    private static readonly uint[] s_lvtWritable = [0x300FF, 0x107FF, 0x107FF, 0x1A7FF, 0x1A7FF, 0x100FF];

    /// <summary>ICR low bits the guest may write: vector, mode, destination mode, level, trigger, shorthand.</summary>
    private const uint IcrLowWritable = 0xCCFFF;

    /// <summary>The LINT0 value of the bootstrap processor at power-on: ExtINT, unmasked (virtual wire).</summary>
    private const uint BspLint0AtPowerOn = (uint)ApicDeliveryMode.ExtInt << 8;

    private readonly Lock _lock = new();
    private readonly ApicBus _bus;
    private readonly IApicCpu _cpu;
    private readonly Func<long> _clock;

    private readonly uint[] _irr = new uint[8];
    private readonly uint[] _isr = new uint[8];
    private readonly uint[] _tmr = new uint[8];
    private readonly uint[] _lvt = new uint[LvtCount];

    /// <summary>APIC ID, bits 24-31 of the ID register.</summary>
    private byte _id;

    /// <summary>IA32_APIC_BASE bit 11.</summary>
    private bool _hardwareEnabled;

    private byte _tpr;

    /// <summary>Logical APIC ID, bits 24-31 of the LDR.</summary>
    private byte _logicalId;

    /// <summary>DFR model, bits 28-31 (0xF flat, 0x0 cluster).</summary>
    private byte _dfrModel;

    private uint _svr;

    /// <summary>The ESR as read: the errors latched by the last ESR write.</summary>
    private uint _esr;

    /// <summary>Errors since the last ESR write, not yet visible.</summary>
    private uint _pendingErrors;

    /// <summary>An error was recorded whose error-LVT interrupt has not been raised yet.</summary>
    private bool _errorToSignal;

    private uint _icrLow;
    private uint _icrHigh;

    /// <summary>Levels of the LINT0 and LINT1 pins (bit 0, bit 1), for edge detection.</summary>
    private int _lintLevels;

    /// <summary>An ExtINT message (from the I/O APIC) not yet acknowledged.</summary>
    private bool _extIntMessagePending;

    /// <summary>After INIT (or power-on of an AP) until a start-up IPI is passed on.</summary>
    private bool _waitingForStartup;

    private uint _timerInitialCount;
    private uint _timerDivideConfig;

    /// <summary>Nanoseconds per timer tick: the divide value times <see cref="NanosecondsPerTimerCycle"/>.</summary>
    private long _timerDivisor;

    /// <summary>Machine time at which the count was (notionally) loaded with the initial count.</summary>
    private long _timerLoadTime;

    /// <summary>A one-shot count ran out before the timer was switched to periodic: it stays at 0 until reloaded.</summary>
    private bool _timerStopped;

    /// <summary>When the timer next raises its interrupt, or <see cref="long.MaxValue"/>. Read without the lock.</summary>
    private long _nextTimerDeadline;

    /// <summary>Creates the APIC of vCPU <paramref name="index"/> in its power-on state; <see cref="ApicBus.AddLocalApic"/> calls it.</summary>
    internal LocalApic(ApicBus bus, int index, IApicCpu cpu, Func<long> clock)
    {
        _bus = bus;
        Index = index;
        _cpu = cpu;
        _clock = clock;
        PowerOnUnsynchronized();
    }

    /// <summary>The vCPU index on the bus, which is also the APIC ID at power-on.</summary>
    public int Index { get; }

    /// <summary>Whether this is the bootstrap processor's APIC (index 0; IA32_APIC_BASE bit 8).</summary>
    public bool IsBootstrapProcessor => Index == 0;

    /// <summary>The current APIC ID.</summary>
    public byte Id
    {
        get
        {
            lock (_lock)
                return _id;
        }
    }

    /// <summary>
    /// True on an application processor from INIT (or power-on) until a start-up IPI has been passed to
    /// <see cref="IApicCpu.Startup"/>; never on the bootstrap processor.
    /// </summary>
    public bool WaitingForStartup
    {
        get
        {
            lock (_lock)
                return _waitingForStartup;
        }
    }

    /// <inheritdoc/>
    byte ICpuLocalApic.InitialId => (byte)Index;

    /// <inheritdoc/>
    ulong ICpuLocalApic.BaseMsr => ApicBaseMsr;

    /// <inheritdoc/>
    bool ICpuLocalApic.TryWriteBaseMsr(ulong value) => WriteApicBaseMsr(value);

    /// <summary>When the timer next raises its interrupt on the machine clock, or <see cref="long.MaxValue"/> (any thread).</summary>
    public long NextTimerDeadline => Volatile.Read(ref _nextTimerDeadline);

    /// <summary>The IA32_APIC_BASE MSR: base 0xFEE00000, bit 8 on the BSP, bit 11 while hardware-enabled.</summary>
    public ulong ApicBaseMsr
    {
        get
        {
            lock (_lock)
                return DefaultBase | (IsBootstrapProcessor ? ApicBaseBsp : 0) | (_hardwareEnabled ? ApicBaseEnable : 0);
        }
    }

    /// <inheritdoc/>
    public bool HasPendingInterrupt
    {
        get
        {
            bool external;
            lock (_lock)
            {
                if (_hardwareEnabled && DeliverableVectorUnsynchronized() >= 0)
                    return true;
                external = ExternalPathOpenUnsynchronized;
            }
            return external && _bus.ExternalInterruptSource is { } pic && pic.HasPendingInterrupt;
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The APIC's own vectors come first, then the 8259's (when its path is open, the 8259 answers the INTA cycle,
    /// with its own spurious vector if its request went away); otherwise the spurious-interrupt vector.
    /// </remarks>
    public byte AcknowledgeInterrupt()
    {
        bool external;
        bool notify = false;
        byte vector;
        lock (_lock)
        {
            int pending = _hardwareEnabled ? DeliverableVectorUnsynchronized() : -1;
            if (pending >= 0)
            {
                ClearBit(_irr, pending);
                SetBit(_isr, pending);
                notify = DeliverableVectorUnsynchronized() >= 0;
                vector = (byte)pending;
                external = false;
            }
            else
            {
                external = ExternalPathOpenUnsynchronized;
                _extIntMessagePending = false;
                vector = (byte)_svr;
            }
        }
        if (notify)
            _cpu.InterruptMayBePending();
        if (external && _bus.ExternalInterruptSource is { } pic)
            return pic.AcknowledgeInterrupt();
        return vector;
    }

    /// <summary>
    /// Raises the timer's interrupt if its deadline is at or before <paramref name="nowNanoseconds"/> (machine
    /// clock), and arms the next period of a periodic timer. The vCPU loop calls it when <see cref="NextTimerDeadline"/>
    /// has passed; calling it early does nothing.
    /// </summary>
    public void RunDue(long nowNanoseconds)
    {
        bool notify;
        lock (_lock)
            notify = RunDueUnsynchronized(nowNanoseconds);
        if (notify)
            _cpu.InterruptMayBePending();
    }

    /// <summary>
    /// Drives local interrupt pin LINT0 (<paramref name="pin"/> 0) or LINT1 (1). A rising edge is delivered as its
    /// LVT entry says (fixed vector, NMI, INIT; masked: dropped). LINT0 in ExtINT mode needs no pin: the 8259 is
    /// polled through <see cref="ApicBus.ExternalInterruptSource"/>. Level-triggered fixed LINT entries are treated as
    /// edge-triggered. Other pin numbers are ignored. Any thread.
    /// </summary>
    public void SetLocalInterruptPin(int pin, bool level)
    {
        if ((uint)pin > 1)
            return;
        Signals signals = Signals.None;
        lock (_lock)
        {
            int bit = 1 << pin;
            bool rising = level && (_lintLevels & bit) == 0;
            _lintLevels = level ? _lintLevels | bit : _lintLevels & ~bit;
            uint lvt = _lvt[pin == 0 ? Lint0Lvt : Lint1Lvt];
            if (rising && _hardwareEnabled && (lvt & LvtMasked) == 0)
            {
                signals = ((ApicDeliveryMode)((lvt >> 8) & 7)) switch
                {
                    ApicDeliveryMode.Fixed => RequestUnsynchronized((byte)lvt, levelTriggered: false),
                    ApicDeliveryMode.Nmi => Signals.Nmi,
                    ApicDeliveryMode.Init => InitUnsynchronized(),
                    ApicDeliveryMode.ExtInt => Signals.Interrupt,
                    _ => Signals.None,
                };
            }
        }
        Raise(signals, 0);
    }

    /// <summary>
    /// Writes the IA32_APIC_BASE MSR. Returns false, changing nothing, when a reserved bit is set (bits 0-7, 9, 10
    /// (x2APIC is not offered) and 36-63): the vCPU raises #GP. The BSP bit is read-only and the base is fixed at
    /// 0xFEE00000 (a write of another base is accepted and ignored: the page is one region shared by every vCPU, and
    /// no OS we run relocates it). Clearing bit 11 hardware-disables the APIC and resets it to its INIT state.
    /// </summary>
    public bool WriteApicBaseMsr(ulong value)
    {
        const ulong allowed = 0xF_FFFF_F000 | ApicBaseBsp | ApicBaseEnable;
        if ((value & ~allowed) != 0)
            return false;
        bool enable = (value & ApicBaseEnable) != 0;
        bool changed;
        lock (_lock)
        {
            changed = enable != _hardwareEnabled;
            if (changed && !enable)
                ResetRegistersUnsynchronized();
            _hardwareEnabled = enable;
        }
        if (changed)
            _cpu.InterruptMayBePending(); // the 8259 path opened or closed
        return true;
    }

    /// <summary>Back to the power-on state (machine reset): ID = <see cref="Index"/>, hardware-enabled, see the remarks.</summary>
    public void Reset()
    {
        lock (_lock)
            PowerOnUnsynchronized();
    }

    /// <summary>
    /// Reads <paramref name="size"/> bytes at <paramref name="offset"/> of the register page: the bytes of the
    /// register that holds them (registers are 32 bits at 16-byte-aligned offsets; bytes 4-15 read as 0).
    /// </summary>
    public ulong ReadMmio(ulong offset, int size)
    {
        if (offset >= 0x1000 || size <= 0)
            return 0;
        int within = (int)(offset & 0xF);
        if (within >= 4)
            return 0;
        uint value = ReadRegister((int)(offset & ~0xFUL)) >> (8 * within);
        int bytes = Math.Min(size, 4 - within);
        return bytes >= 4 ? value : value & ((1u << (8 * bytes)) - 1);
    }

    /// <summary>Writes the register page: only 32-bit writes at 16-byte-aligned offsets reach a register; others are ignored.</summary>
    public void WriteMmio(ulong offset, int size, ulong value)
    {
        if (size == 4 && offset < 0x1000 && (offset & 0xF) == 0)
            WriteRegister((int)offset, (uint)value);
    }

    /// <summary>Reads the 32-bit register at <paramref name="offset"/> (one of <see cref="Registers"/>); others read 0.</summary>
    public uint ReadRegister(int offset)
    {
        lock (_lock)
        {
            if (!_hardwareEnabled)
                return 0;
            switch (offset)
            {
                case Registers.Id:
                    return (uint)_id << 24;
                case Registers.Version:
                    return Version;
                case Registers.Tpr:
                    return _tpr;
                case Registers.Apr:
                    return ArbitrationPriorityUnsynchronized();
                case Registers.Ppr:
                    return ProcessorPriorityUnsynchronized();
                case Registers.Ldr:
                    return (uint)_logicalId << 24;
                case Registers.Dfr:
                    return ((uint)_dfrModel << 28) | 0x0FFF_FFFF;
                case Registers.Svr:
                    return _svr;
                case >= Registers.Isr and < Registers.Isr + 0x80 when (offset & 0xF) == 0:
                    return _isr[(offset - Registers.Isr) >> 4];
                case >= Registers.Tmr and < Registers.Tmr + 0x80 when (offset & 0xF) == 0:
                    return _tmr[(offset - Registers.Tmr) >> 4];
                case >= Registers.Irr and < Registers.Irr + 0x80 when (offset & 0xF) == 0:
                    return _irr[(offset - Registers.Irr) >> 4];
                case Registers.Esr:
                    return _esr;
                case Registers.IcrLow:
                    return _icrLow; // delivery status (bit 12) is always idle: delivery is immediate
                case Registers.IcrHigh:
                    return _icrHigh;
                case >= Registers.LvtTimer and <= Registers.LvtError when (offset & 0xF) == 0:
                    return _lvt[(offset - Registers.LvtTimer) >> 4];
                case Registers.TimerInitialCount:
                    return _timerInitialCount;
                case Registers.TimerCurrentCount:
                    return CurrentCountUnsynchronized(_clock());
                case Registers.TimerDivide:
                    return _timerDivideConfig;
                default:
                    return 0; // EOI and remote read are write-only or unused; reserved offsets read 0
            }
        }
    }

    /// <summary>Writes the 32-bit register at <paramref name="offset"/>; read-only and reserved offsets are ignored.</summary>
    public void WriteRegister(int offset, uint value)
    {
        Signals signals = Signals.None;
        ApicMessage message = default;
        bool send = false;
        int eoiBroadcast = -1;
        lock (_lock)
        {
            if (!_hardwareEnabled)
                return;
            long deadlineBefore = _nextTimerDeadline;
            bool externalBefore = ExternalPathOpenUnsynchronized;
            switch (offset)
            {
                case Registers.Id:
                    _id = (byte)(value >> 24);
                    break;
                case Registers.Tpr:
                    _tpr = (byte)value;
                    break;
                case Registers.Eoi:
                    eoiBroadcast = EndOfInterruptUnsynchronized();
                    break;
                case Registers.Ldr:
                    _logicalId = (byte)(value >> 24);
                    break;
                case Registers.Dfr:
                    _dfrModel = (byte)(value >> 28);
                    break;
                case Registers.Svr:
                    WriteSvrUnsynchronized(value);
                    break;
                case Registers.Esr:
                    _esr = _pendingErrors;
                    _pendingErrors = 0;
                    break;
                case Registers.IcrLow:
                    _icrLow = value & IcrLowWritable;
                    send = TryBuildIpiUnsynchronized(out message);
                    break;
                case Registers.IcrHigh:
                    _icrHigh = value & 0xFF00_0000;
                    break;
                case >= Registers.LvtTimer and <= Registers.LvtError when (offset & 0xF) == 0:
                    WriteLvtUnsynchronized((offset - Registers.LvtTimer) >> 4, value);
                    break;
                case Registers.TimerInitialCount:
                    WriteInitialCountUnsynchronized(value);
                    break;
                case Registers.TimerDivide:
                    WriteDivideConfigUnsynchronized(value);
                    break;
                default:
                    break; // read-only and reserved registers
            }
            // A vector may have become presentable (TPR, EOI, SVR), the 8259's path may have opened (LINT0), or the
            // timer may have moved earlier: the vCPU looks again.
            if (DeliverableVectorUnsynchronized() >= 0 || (ExternalPathOpenUnsynchronized && !externalBefore) || _nextTimerDeadline < deadlineBefore)
                signals |= Signals.Interrupt;
            signals |= TakeErrorSignalsUnsynchronized();
        }
        if (eoiBroadcast >= 0)
            _bus.BroadcastEndOfInterrupt((byte)eoiBroadcast);
        if (send)
            _bus.Deliver(message, Index);
        Raise(signals, 0);
    }

    /// <summary>The current count register on the machine clock (any thread; for tests and debugging).</summary>
    public uint CurrentCount => ReadRegister(Registers.TimerCurrentCount);

    /// <summary>Whether the bus may address this APIC with <paramref name="message"/> (destination field and mode; no shorthand).</summary>
    internal bool MatchesDestination(in ApicMessage message)
    {
        lock (_lock)
        {
            if (!_hardwareEnabled)
                return false;
            byte destination = message.Destination;
            if (destination == 0xFF)
                return true; // broadcast, in physical and both logical models
            if (!message.Logical)
                return destination == _id;
            return _dfrModel switch
            {
                0xF => (destination & _logicalId) != 0, // flat: a bit per APIC
                0x0 => (destination >> 4) == (_logicalId >> 4) && (destination & _logicalId & 0xF) != 0, // cluster
                _ => false,
            };
        }
    }

    /// <summary>
    /// The arbitration priority for lowest-priority delivery, or -1 when this APIC would not accept a fixed message
    /// (hardware- or software-disabled).
    /// </summary>
    internal int LowestPriorityCandidate()
    {
        lock (_lock)
        {
            if (!_hardwareEnabled || (_svr & SvrEnable) == 0)
                return -1;
            return (int)ArbitrationPriorityUnsynchronized();
        }
    }

    /// <summary>Takes a message from the bus (any thread; no lock held by the caller).</summary>
    internal void Accept(in ApicMessage message)
    {
        Signals signals = Signals.None;
        byte startPage = message.Vector;
        lock (_lock)
        {
            if (!_hardwareEnabled)
                return;
            switch (message.Mode)
            {
                case ApicDeliveryMode.Fixed:
                case ApicDeliveryMode.LowestPriority:
                    if ((_svr & SvrEnable) != 0)
                        signals = RequestUnsynchronized(message.Vector, message.LevelTriggered);
                    break;
                case ApicDeliveryMode.Nmi:
                    signals = Signals.Nmi;
                    break;
                case ApicDeliveryMode.Init:
                    signals = InitUnsynchronized();
                    break;
                case ApicDeliveryMode.Startup:
                    if (_waitingForStartup)
                    {
                        _waitingForStartup = false;
                        signals = Signals.Startup;
                    }
                    break;
                case ApicDeliveryMode.ExtInt:
                    if ((_svr & SvrEnable) != 0)
                    {
                        _extIntMessagePending = true;
                        signals = Signals.Interrupt;
                    }
                    break;
                default:
                    break; // SMI and reserved modes
            }
            signals |= TakeErrorSignalsUnsynchronized();
        }
        Raise(signals, startPage);
    }

    /// <summary>Work for the <see cref="IApicCpu"/>, gathered under the lock and done after it.</summary>
    [Flags]
    private enum Signals
    {
        None = 0,
        Interrupt = 1,
        Nmi = 2,
        Init = 4,
        Startup = 8,
    }

    private void Raise(Signals signals, byte startPage)
    {
        if ((signals & Signals.Init) != 0)
            _cpu.Init();
        if ((signals & Signals.Startup) != 0)
            _cpu.Startup(startPage);
        if ((signals & Signals.Nmi) != 0)
            _cpu.Nmi();
        if ((signals & Signals.Interrupt) != 0)
            _cpu.InterruptMayBePending();
    }

    /// <summary>Whether the 8259 currently reaches the processor through this APIC (LINT0 ExtINT, an ExtINT message, or hardware disable).</summary>
    private bool ExternalPathOpenUnsynchronized
    {
        get
        {
            if (!_hardwareEnabled)
                return true;
            uint lint0 = _lvt[Lint0Lvt];
            return _extIntMessagePending || ((lint0 & LvtMasked) == 0 && ((lint0 >> 8) & 7) == (uint)ApicDeliveryMode.ExtInt);
        }
    }

    private void PowerOnUnsynchronized()
    {
        _id = (byte)Index;
        _hardwareEnabled = true;
        _lintLevels = 0;
        ResetRegistersUnsynchronized();
        _waitingForStartup = !IsBootstrapProcessor;
        if (IsBootstrapProcessor)
            _lvt[Lint0Lvt] = BspLint0AtPowerOn;
    }

    /// <summary>
    /// INIT: every register back to its power-on value but the ID. An application processor waits for a start-up IPI;
    /// the bootstrap processor restarts at the reset vector and takes none.
    /// </summary>
    private Signals InitUnsynchronized()
    {
        ResetRegistersUnsynchronized();
        _waitingForStartup = !IsBootstrapProcessor;
        return Signals.Init;
    }

    /// <summary>The registers' power-on values, except the ID, the APIC base MSR and the pins.</summary>
    private void ResetRegistersUnsynchronized()
    {
        _tpr = 0;
        _logicalId = 0;
        _dfrModel = 0xF;
        _svr = 0xFF;
        Array.Clear(_irr);
        Array.Clear(_isr);
        Array.Clear(_tmr);
        for (int i = 0; i < LvtCount; i++)
            _lvt[i] = LvtMasked;
        _esr = 0;
        _pendingErrors = 0;
        _errorToSignal = false;
        _icrLow = 0;
        _icrHigh = 0;
        _extIntMessagePending = false;
        _timerInitialCount = 0;
        _timerDivideConfig = 0;
        _timerDivisor = DivisorOf(0);
        _timerLoadTime = 0;
        _timerStopped = false;
        Volatile.Write(ref _nextTimerDeadline, long.MaxValue);
    }

    /// <summary>Latches <paramref name="vector"/> in the IRR (TMR as <paramref name="levelTriggered"/>), or records an illegal vector.</summary>
    private Signals RequestUnsynchronized(byte vector, bool levelTriggered)
    {
        if (vector < 16)
        {
            RecordErrorUnsynchronized(ErrorReceiveIllegalVector);
            return Signals.None;
        }
        SetBit(_irr, vector);
        if (levelTriggered)
            SetBit(_tmr, vector);
        else
            ClearBit(_tmr, vector);
        return DeliverableVectorUnsynchronized() >= 0 ? Signals.Interrupt : Signals.None;
    }

    /// <summary>Notes an error for the next ESR write; the error LVT's interrupt is raised by <see cref="TakeErrorSignalsUnsynchronized"/>.</summary>
    private void RecordErrorUnsynchronized(uint error)
    {
        _pendingErrors |= error;
        _errorToSignal = true;
    }

    /// <summary>Raises the error LVT's vector once for the errors recorded since the last call.</summary>
    private Signals TakeErrorSignalsUnsynchronized()
    {
        if (!_errorToSignal)
            return Signals.None;
        _errorToSignal = false;
        uint lvt = _lvt[ErrorLvt];
        if ((lvt & LvtMasked) != 0 || (byte)lvt < 16)
            return Signals.None;
        SetBit(_irr, (byte)lvt);
        ClearBit(_tmr, (byte)lvt);
        return DeliverableVectorUnsynchronized() >= 0 ? Signals.Interrupt : Signals.None;
    }

    /// <summary>The highest IRR vector whose class is above PPR's, or -1 (nothing while software-disabled).</summary>
    private int DeliverableVectorUnsynchronized()
    {
        if ((_svr & SvrEnable) == 0)
            return -1;
        int vector = HighestBit(_irr);
        if (vector < 0 || (vector & 0xF0) <= (ProcessorPriorityUnsynchronized() & 0xF0))
            return -1;
        return vector;
    }

    private uint ProcessorPriorityUnsynchronized()
    {
        int isrv = Math.Max(HighestBit(_isr), 0);
        return (_tpr >> 4) >= (isrv >> 4) ? _tpr : (uint)(isrv & 0xF0);
    }

    /// <summary>SDM figure 10-15's arbitration priority: TPR unless a higher class is requested or in service.</summary>
    private uint ArbitrationPriorityUnsynchronized()
    {
        int tprClass = _tpr >> 4;
        int isrClass = Math.Max(HighestBit(_isr), 0) >> 4;
        int irrClass = Math.Max(HighestBit(_irr), 0) >> 4;
        if (tprClass >= irrClass && tprClass > isrClass)
            return _tpr;
        return (uint)(Math.Max(tprClass, Math.Max(isrClass, irrClass)) << 4);
    }

    /// <summary>Clears the highest ISR bit; returns its vector when its TMR bit asks for an EOI broadcast, else -1.</summary>
    private int EndOfInterruptUnsynchronized()
    {
        int vector = HighestBit(_isr);
        if (vector < 0)
            return -1;
        ClearBit(_isr, vector);
        return IsSet(_tmr, vector) ? vector : -1;
    }

    private void WriteSvrUnsynchronized(uint value)
    {
        bool wasEnabled = (_svr & SvrEnable) != 0;
        long now = _clock();
        if (wasEnabled && (value & SvrEnable) == 0)
            RunDueUnsynchronized(now); // an expiry due while enabled is not lost
        _svr = value & 0x3FF; // vector, software enable, focus processor checking
        if (wasEnabled && (_svr & SvrEnable) == 0)
        {
            for (int i = 0; i < LvtCount; i++)
                _lvt[i] |= LvtMasked;
            RearmTimerUnsynchronized(now);
        }
    }

    private void WriteLvtUnsynchronized(int index, uint value)
    {
        value &= s_lvtWritable[index];
        if ((_svr & SvrEnable) == 0)
            value |= LvtMasked; // software-disabled: masks cannot be cleared
        if (index != TimerLvt)
        {
            _lvt[index] = value;
            return;
        }

        long now = _clock();
        RunDueUnsynchronized(now); // an expiry due under the old setting is not lost
        bool wasPeriodic = (_lvt[TimerLvt] & LvtTimerPeriodic) != 0;
        bool periodic = (value & LvtTimerPeriodic) != 0;
        if (wasPeriodic != periodic && _timerInitialCount != 0 && !_timerStopped)
        {
            uint current = CurrentCountUnsynchronized(now);
            if (periodic && current == 0)
                _timerStopped = true; // the one-shot count ran out: it stays at 0 until reloaded (as QEMU does)
            else
                _timerLoadTime = now - ((long)(_timerInitialCount - current) * _timerDivisor); // go on from the current count
        }
        _lvt[TimerLvt] = value;
        RearmTimerUnsynchronized(now);
    }

    private void WriteInitialCountUnsynchronized(uint value)
    {
        long now = _clock();
        RunDueUnsynchronized(now);
        _timerInitialCount = value;
        _timerLoadTime = now;
        _timerStopped = false;
        RearmTimerUnsynchronized(now);
    }

    private void WriteDivideConfigUnsynchronized(uint value)
    {
        long now = _clock();
        RunDueUnsynchronized(now);
        uint current = CurrentCountUnsynchronized(now);
        _timerDivideConfig = value & 0xB;
        _timerDivisor = DivisorOf(_timerDivideConfig);
        if (_timerInitialCount != 0 && !_timerStopped)
            _timerLoadTime = now - ((long)(_timerInitialCount - current) * _timerDivisor); // the count goes on at the new rate
        RearmTimerUnsynchronized(now);
    }

    /// <summary>
    /// Divide configuration bits 0, 1, 3 to nanoseconds per tick: the divisor is 0b000 → 2, 0b001 → 4, … 0b110 → 128,
    /// 0b111 → 1.
    /// </summary>
    private static long DivisorOf(uint divideConfig)
    {
        int code = (int)((divideConfig & 3) | ((divideConfig >> 1) & 4));
        return (code == 7 ? 1 : 2L << code) * NanosecondsPerTimerCycle;
    }

    /// <summary>Timer ticks since the count was loaded (0 before it).</summary>
    private long ElapsedTicksUnsynchronized(long now) => Math.Max(0, now - _timerLoadTime) / _timerDivisor;

    private uint CurrentCountUnsynchronized(long now)
    {
        if (_timerInitialCount == 0 || _timerStopped)
            return 0;
        long ticks = ElapsedTicksUnsynchronized(now);
        if ((_lvt[TimerLvt] & LvtTimerPeriodic) != 0)
            return (uint)(_timerInitialCount - (ticks % _timerInitialCount));
        return ticks >= _timerInitialCount ? 0 : (uint)(_timerInitialCount - ticks);
    }

    /// <summary>Computes <see cref="_nextTimerDeadline"/> from the timer registers as they are at <paramref name="now"/>.</summary>
    private void RearmTimerUnsynchronized(long now)
    {
        long deadline = long.MaxValue;
        uint lvt = _lvt[TimerLvt];
        if (_timerInitialCount != 0 && !_timerStopped && (lvt & LvtMasked) == 0)
        {
            long period = _timerInitialCount * _timerDivisor;
            long ticks = ElapsedTicksUnsynchronized(now);
            if ((lvt & LvtTimerPeriodic) != 0)
                deadline = _timerLoadTime + (((ticks / _timerInitialCount) + 1) * period);
            else if (ticks < _timerInitialCount)
                deadline = _timerLoadTime + period;
        }
        Volatile.Write(ref _nextTimerDeadline, deadline);
    }

    /// <summary>Fires the timer if its deadline has come; true when the processor should look for an interrupt.</summary>
    private bool RunDueUnsynchronized(long now)
    {
        if (now < _nextTimerDeadline)
            return false;
        uint lvt = _lvt[TimerLvt];
        Signals signals = RequestUnsynchronized((byte)lvt, levelTriggered: false);
        signals |= TakeErrorSignalsUnsynchronized();
        if ((lvt & LvtTimerPeriodic) != 0)
            RearmTimerUnsynchronized(now); // the next period after now; periods missed meanwhile merge into this one
        else
            Volatile.Write(ref _nextTimerDeadline, long.MaxValue);
        return signals != Signals.None;
    }

    /// <summary>Builds the message of an ICR low write; false when nothing is sent (INIT de-assert, illegal vector, reserved mode).</summary>
    private bool TryBuildIpiUnsynchronized(out ApicMessage message)
    {
        uint icr = _icrLow;
        var mode = (ApicDeliveryMode)((icr >> 8) & 7);
        byte vector = (byte)icr;
        bool level = (icr & (1 << 14)) != 0;
        bool levelTriggered = (icr & (1 << 15)) != 0;
        message = new ApicMessage(mode, vector, Logical: (icr & (1 << 11)) != 0, Destination: (byte)(_icrHigh >> 24),
            LevelTriggered: levelTriggered, Shorthand: (ApicShorthand)((icr >> 18) & 3));
        switch (mode)
        {
            case ApicDeliveryMode.Fixed:
            case ApicDeliveryMode.LowestPriority:
                if (vector < 16)
                {
                    RecordErrorUnsynchronized(ErrorSendIllegalVector);
                    return false;
                }
                return true;
            case ApicDeliveryMode.Init:
                return level || !levelTriggered; // INIT level de-assert only resynchronises arbitration IDs: ignored
            case ApicDeliveryMode.Nmi:
            case ApicDeliveryMode.Startup:
                return true;
            default:
                return false; // SMI is not modelled; ExtINT and the reserved mode 3 are not valid in the ICR
        }
    }

    private static int HighestBit(uint[] words)
    {
        for (int i = words.Length - 1; i >= 0; i--)
        {
            if (words[i] != 0)
                return (i << 5) | (31 - System.Numerics.BitOperations.LeadingZeroCount(words[i]));
        }
        return -1;
    }

    private static bool IsSet(uint[] words, int vector) => (words[vector >> 5] & (1u << (vector & 31))) != 0;

    private static void SetBit(uint[] words, int vector) => words[vector >> 5] |= 1u << (vector & 31);

    private static void ClearBit(uint[] words, int vector) => words[vector >> 5] &= ~(1u << (vector & 31));
}
