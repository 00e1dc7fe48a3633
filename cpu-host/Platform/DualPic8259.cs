using SplitEmu.CpuHost.Cpu;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.CpuHost.Platform;

/// <summary>
/// The PC's pair of 8259A programmable interrupt controllers: a master at ports 0x20-0x21 whose IR2 is the
/// cascade input from a slave at 0xA0-0xA1, plus the PIIX-style edge/level control registers (ELCR) at
/// 0x4D0-0x4D1. ISA line n (0-7) is master IRn, line n (8-15) is slave IR(n-8); line 2 drives master IR2
/// directly (boards usually route the ISA IRQ2 pin to IRQ9; the caller decides).
/// </summary>
/// <remarks>
/// <para>
/// Implemented from the Intel 8259A data sheet: the initialisation sequence (ICW1 to ICW4), OCW1 (mask),
/// OCW2 (non-specific, specific and rotating EOI, rotate in automatic EOI, set priority), OCW3 (IRR/ISR
/// read select, poll, special mask mode), fully nested and rotating priorities, automatic EOI, special fully
/// nested mode on the master, and spurious interrupts.
/// </para>
/// <para>
/// Triggering: a line is edge-triggered unless its ELCR bit (or LTIM in ICW1) makes it level-triggered. In
/// edge mode a rising edge latches the request until the acknowledge, even if the line falls first: devices
/// signal edge interrupts with a pulse (the 8254's IRQ 0), and across a process boundary the two levels
/// arrive together, with no INTA in between. (The data sheet wants IR held until INTA; QEMU latches too.)
/// In level mode the request follows the line, and one withdrawn before the acknowledge gives the spurious
/// IR7 vector. Master IR0-IR2
/// and slave IR0 and IR5 (IRQ 0, 1, 2, 8 and 13) are edge only, as on the PIIX.
/// </para>
/// <para>
/// The system timer's line (IRQ 0) keeps count of edges that come while one is still latched, up to
/// <see cref="MaxQueuedTimerTicks"/>, and latches the next at each acknowledge: a tick is a unit of guest time
/// (Linux counts jiffies, and its PIT clocksource reads them), and ticks from a timer in another process can
/// arrive together (the event pump applies what queued up at once) where on the board each would have been
/// taken. KVM reinjects the PIT's ticks the same way. Masking does not forget them (Linux masks each interrupt's
/// line while it handles it, and ticks come meanwhile); initialising the chip does.
/// </para>
/// <para>
/// Power-on (and <see cref="Reset"/>): a real 8259A is unprogrammed until the BIOS initialises it. As a
/// convenience this model starts as a BIOS leaves it — master vectors 0x08-0x0F, slave vectors 0x70-0x77,
/// cascade on IR2, 8086 mode, nothing masked, all lines edge-triggered — so that an interrupt taken before
/// initialisation lands on a sensible vector instead of vector 0.
/// </para>
/// <para>
/// Simplifications: vectors are always 8086-style (ICW2 with its low three bits replaced by the level);
/// the MCS-80/85 CALL sequence, buffered mode and the slave identity in the slave's ICW3 are ignored (the
/// slave answers whenever the master acknowledges IR2 and the master's ICW3 marks IR2 as a slave). A poll
/// read acknowledges like an INTA cycle but does not perform automatic EOI (no INTA pulse occurs).
/// </para>
/// <para>
/// Threads: <see cref="SetLine"/> may be called from any thread; the port accesses and the CPU side
/// (<see cref="HasPendingInterrupt"/>, <see cref="AcknowledgeInterrupt"/>) may run concurrently with it. All
/// state is under one lock. The callback given to the constructor runs after the lock is released.
/// </para>
/// </remarks>
public sealed class DualPic8259 : IInterruptController, IDevice
{
    /// <summary>Index of the master's region (ports 0x20-0x21).</summary>
    public const int MasterRegion = 0;

    /// <summary>Index of the slave's region (ports 0xA0-0xA1).</summary>
    public const int SlaveRegion = 1;

    /// <summary>Most timer ticks (IRQ 0 edges) kept waiting behind a latched one.</summary>
    public const int MaxQueuedTimerTicks = 64;

    /// <summary>Index of the edge/level control region (ports 0x4D0-0x4D1).</summary>
    public const int ElcrRegion = 2;

    /// <summary>ISA interrupt lines (0-15).</summary>
    public const int LineCount = 16;

    /// <summary>The master's input that the slave's INT output drives.</summary>
    private const int CascadeInput = 2;

    /// <summary>Vector base the master starts with (as a PC BIOS programs it).</summary>
    private const byte MasterResetVectorBase = 0x08;

    /// <summary>Vector base the slave starts with (as a PC BIOS programs it).</summary>
    private const byte SlaveResetVectorBase = 0x70;

    /// <summary>ELCR bits the guest may set on the master: IR0-IR2 (timer, keyboard, cascade) are edge only.</summary>
    private const byte MasterElcrWritable = 0xF8;

    /// <summary>ELCR bits the guest may set on the slave: IR0 (RTC) and IR5 (FPU error) are edge only.</summary>
    private const byte SlaveElcrWritable = 0xDE;

    private readonly Lock _lock = new();
    private readonly Action _interruptMayBePending;
    private readonly Chip _master = new(MasterElcrWritable, isMaster: true, countedEdges: 0x01); // IRQ 0: the system timer
    private readonly Chip _slave = new(SlaveElcrWritable, isMaster: false, countedEdges: 0);

    /// <summary>Creates the pair in its power-on state (see the remarks).</summary>
    /// <param name="interruptMayBePending">
    /// Called (outside the lock) whenever the INT output to the CPU may have become active: a request rose
    /// unmasked, an EOI or mask change uncovered one, or one is still waiting after an acknowledge.
    /// </param>
    public DualPic8259(Action interruptMayBePending)
    {
        ArgumentNullException.ThrowIfNull(interruptMayBePending);
        _interruptMayBePending = interruptMayBePending;
        Regions =
        [
            // Byte-wide ports (QEMU's pic_base_ioport_ops and elcr_ioport_ops: 1..1).
            new DeviceRegionInfo("master", AddressSpaceKind.Io, 0x20, 2, MinAccessSize: 1, MaxAccessSize: 1),
            new DeviceRegionInfo("slave", AddressSpaceKind.Io, 0xA0, 2, MinAccessSize: 1, MaxAccessSize: 1),
            new DeviceRegionInfo("elcr", AddressSpaceKind.Io, 0x4D0, 2, MinAccessSize: 1, MaxAccessSize: 1),
        ];
        ResetUnsynchronized();
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <inheritdoc/>
    public bool HasPendingInterrupt
    {
        get
        {
            lock (_lock)
                return _master.OutputActive;
        }
    }

    /// <summary>Drives ISA line <paramref name="irq"/> (0-15); other numbers are ignored (untrusted input). Any thread.</summary>
    public void SetLine(int irq, bool level)
    {
        if ((uint)irq >= LineCount)
            return;
        bool notify;
        lock (_lock)
        {
            bool before = _master.OutputActive;
            if (irq < 8)
            {
                _master.SetInput(irq, level);
            }
            else
            {
                _slave.SetInput(irq - 8, level);
                UpdateCascadeUnsynchronized();
            }
            notify = !before && _master.OutputActive;
        }
        if (notify)
            _interruptMayBePending();
    }

    /// <inheritdoc/>
    public byte AcknowledgeInterrupt()
    {
        byte vector;
        bool notify;
        lock (_lock)
        {
            vector = AcknowledgeUnsynchronized();
            notify = _master.OutputActive;
        }
        if (notify)
            _interruptMayBePending();
        return vector;
    }

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size)
    {
        // An x86 access wider than a byte touches consecutive ports; bytes beyond the region read as 0xFF.
        ulong value = 0;
        bool notify;
        lock (_lock)
        {
            bool before = _master.OutputActive;
            for (int i = 0; i < Math.Clamp(size, 1, 8); i++)
            {
                ulong port = offset + (ulong)i;
                byte b = port < 2 ? ReadByteUnsynchronized(region, (int)port) : (byte)0xFF;
                value |= (ulong)b << (8 * i);
            }
            notify = !before && _master.OutputActive;
        }
        if (notify)
            _interruptMayBePending();
        return value;
    }

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value)
    {
        bool notify;
        lock (_lock)
        {
            bool before = _master.OutputActive;
            for (int i = 0; i < Math.Clamp(size, 1, 8); i++)
            {
                ulong port = offset + (ulong)i;
                if (port < 2)
                    WriteByteUnsynchronized(region, (int)port, (byte)(value >> (8 * i)));
            }
            notify = !before && _master.OutputActive;
        }
        if (notify)
            _interruptMayBePending();
    }

    /// <inheritdoc/>
    public void Reset()
    {
        lock (_lock)
            ResetUnsynchronized();
    }

    private void ResetUnsynchronized()
    {
        _master.Reset(MasterResetVectorBase, icw3: 1 << CascadeInput);
        _slave.Reset(SlaveResetVectorBase, icw3: CascadeInput);
        UpdateCascadeUnsynchronized();
    }

    /// <summary>Whether the master's IR2 is wired to a slave as far as the master's programming says.</summary>
    private bool SlaveOnCascadeUnsynchronized => !_master.Single && (_master.Icw3 & (1 << CascadeInput)) != 0;

    /// <summary>Feeds the slave's INT output into the master's cascade input.</summary>
    /// <remarks>The cascade is a wire between the chips, not a device's pulse: its request follows the slave's output.</remarks>
    private void UpdateCascadeUnsynchronized() => _master.SetInput(CascadeInput, _slave.OutputActive, followsLevel: true);

    /// <summary>The INTA cycle of the pair.</summary>
    private byte AcknowledgeUnsynchronized()
    {
        int level = _master.PendingLevel();
        if (level < 0)
            return (byte)(_master.VectorBase | 7); // the request went away before INTA: spurious IR7, ISR untouched

        _master.Acknowledge(level, applyAutoEoi: true);
        if (level != CascadeInput || !SlaveOnCascadeUnsynchronized)
            return (byte)(_master.VectorBase | level);

        // The slave puts its vector on the bus. Its INT output drops during the INTA cycle; if it is still
        // active afterwards (another request, automatic EOI) the master sees a new edge on IR2.
        byte vector;
        int slaveLevel = _slave.PendingLevel();
        if (slaveLevel < 0)
        {
            vector = (byte)(_slave.VectorBase | 7); // slave spurious: the master's IR2 stays in service
        }
        else
        {
            _slave.Acknowledge(slaveLevel, applyAutoEoi: true);
            vector = (byte)(_slave.VectorBase | slaveLevel);
        }
        _master.SetInput(CascadeInput, false, followsLevel: true);
        UpdateCascadeUnsynchronized();
        return vector;
    }

    private byte ReadByteUnsynchronized(int region, int port)
    {
        switch (region)
        {
            case MasterRegion:
                return _master.Read(port);
            case SlaveRegion:
                byte value = _slave.Read(port); // a poll read acknowledges
                UpdateCascadeUnsynchronized();
                return value;
            case ElcrRegion:
                return port == 0 ? _master.Elcr : _slave.Elcr;
            default:
                return 0xFF;
        }
    }

    private void WriteByteUnsynchronized(int region, int port, byte value)
    {
        switch (region)
        {
            case MasterRegion:
                _master.Write(port, value);
                break;
            case SlaveRegion:
                _slave.Write(port, value);
                UpdateCascadeUnsynchronized();
                break;
            case ElcrRegion:
                if (port == 0)
                {
                    _master.WriteElcr(value);
                }
                else
                {
                    _slave.WriteElcr(value);
                    UpdateCascadeUnsynchronized();
                }
                break;
        }
    }

    /// <summary>One 8259A. Not thread-safe: the owner holds its lock around every call.</summary>
    /// <param name="elcrWritable">Bits of its edge/level control register the guest may set (inputs that may be level-triggered).</param>
    /// <param name="isMaster">Whether it is the master, whose input 2 is the slave.</param>
    /// <param name="countedEdges">Inputs whose edges are counted while one is latched, not merged (the timer's).</param>
    private sealed class Chip(byte elcrWritable, bool isMaster, byte countedEdges)
    {
        /// <summary>Initialisation words still expected.</summary>
        private enum InitStep
        {
            Ready,
            Icw2,
            Icw3,
            Icw4,
        }

        /// <summary>Interrupt request register: levels requesting service.</summary>
        private byte _irr;

        /// <summary>In-service register: levels acknowledged and not yet ended.</summary>
        private byte _isr;

        /// <summary>Interrupt mask register (OCW1).</summary>
        private byte _imr;

        /// <summary>Current level of each IR input pin.</summary>
        private byte _input;

        /// <summary>Edges of the counted input that came while one was latched, still to be latched.</summary>
        private int _queuedTimerTicks;

        /// <summary>The level with the lowest priority; the next one (mod 8) has the highest.</summary>
        private int _lowestPriority;

        private InitStep _initStep;

        /// <summary>ICW1 LTIM: every input level-triggered.</summary>
        private bool _levelTriggeredAll;

        /// <summary>ICW1 IC4: an ICW4 follows.</summary>
        private bool _icw4Needed;

        /// <summary>ICW4 AEOI: the INTA cycle ends the interrupt itself.</summary>
        private bool _autoEoi;

        /// <summary>OCW2 rotate in automatic EOI mode: an automatic EOI makes its level the lowest priority.</summary>
        private bool _rotateOnAutoEoi;

        /// <summary>ICW4 SFNM (master only): a slave's request is not blocked by its own cascade level in service.</summary>
        private bool _specialFullyNested;

        /// <summary>OCW3 SMM: masked levels in service no longer block lower levels.</summary>
        private bool _specialMask;

        /// <summary>OCW3 RR/RIS: reads of the even port return the ISR instead of the IRR.</summary>
        private bool _readIsr;

        /// <summary>OCW3 P: the next read returns the poll word and acknowledges.</summary>
        private bool _pollPending;

        /// <summary>ICW2 with the level bits cleared.</summary>
        public byte VectorBase { get; private set; }

        /// <summary>ICW3: slave bits on a master, the identity on a slave.</summary>
        public byte Icw3 { get; private set; }

        /// <summary>ICW1 SNGL: no cascade.</summary>
        public bool Single { get; private set; }

        /// <summary>Edge/level control register: bit set = level-triggered.</summary>
        public byte Elcr { get; private set; }

        /// <summary>The INT output: a request the priority logic would pass to the CPU.</summary>
        public bool OutputActive => PendingLevel() >= 0;

        /// <summary>Inputs that are level-triggered right now.</summary>
        private byte LevelTriggered => _levelTriggeredAll ? (byte)0xFF : Elcr;

        public void Reset(byte vectorBase, byte icw3)
        {
            _irr = 0;
            _isr = 0;
            _imr = 0;
            _queuedTimerTicks = 0;
            _lowestPriority = 7;
            _initStep = InitStep.Ready;
            _levelTriggeredAll = false;
            _icw4Needed = true;
            _autoEoi = false;
            _rotateOnAutoEoi = false;
            _specialFullyNested = false;
            _specialMask = false;
            _readIsr = false;
            _pollPending = false;
            VectorBase = vectorBase;
            Icw3 = icw3;
            Single = false;
            Elcr = 0;
            // _input is the wires' state, which a reset of the controller does not change.
        }

        public void SetInput(int ir, bool high, bool followsLevel = false)
        {
            byte bit = (byte)(1 << ir);
            bool wasHigh = (_input & bit) != 0;
            if (high)
            {
                _input |= bit;
                if ((countedEdges & bit) != 0 && !wasHigh && (_irr & bit) != 0 && (LevelTriggered & bit) == 0)
                    _queuedTimerTicks = Math.Min(MaxQueuedTimerTicks, _queuedTimerTicks + 1); // a tick behind the latched one
                if (!wasHigh || (LevelTriggered & bit) != 0)
                    _irr |= bit;
            }
            else
            {
                // Level mode: the request follows the pin. Edge mode: the latched edge stays until INTA.
                _input &= (byte)~bit;
                _irr &= (byte)~(followsLevel ? bit : bit & LevelTriggered);
            }
        }

        public void WriteElcr(byte value)
        {
            byte newlyLevel = (byte)(value & elcrWritable & ~Elcr);
            Elcr = (byte)(value & elcrWritable);
            _irr |= (byte)(newlyLevel & _input); // a pin already high requests at once in level mode
        }

        /// <summary>The level the priority logic would pass to the CPU, or -1.</summary>
        public int PendingLevel()
        {
            int requests = _irr & ~_imr;
            if (requests == 0)
                return -1;
            int blocking = _specialMask ? _isr & ~_imr : _isr;
            for (int i = 1; i <= 8; i++)
            {
                int level = (_lowestPriority + i) & 7;
                int bit = 1 << level;
                if ((blocking & bit) != 0)
                {
                    // A level in service blocks itself and every lower priority, except that in special fully
                    // nested mode the master's cascade level lets a higher request of the slave through.
                    bool slaveNested = isMaster && _specialFullyNested && level == CascadeInput && (requests & bit) != 0;
                    return slaveNested ? level : -1;
                }
                if ((requests & bit) != 0)
                    return level;
            }
            return -1;
        }

        /// <summary>The acknowledge part of an INTA cycle (or a poll read) for <paramref name="level"/>.</summary>
        public void Acknowledge(int level, bool applyAutoEoi)
        {
            byte bit = (byte)(1 << level);
            if ((LevelTriggered & bit) == 0)
            {
                _irr &= (byte)~bit; // a level-triggered request stays as long as its pin is high
                if ((countedEdges & bit) != 0 && _queuedTimerTicks > 0)
                {
                    _queuedTimerTicks--;
                    _irr |= bit; // the next tick, taken once this one is served
                }
            }
            if (applyAutoEoi && _autoEoi)
            {
                if (_rotateOnAutoEoi)
                    _lowestPriority = level;
            }
            else
            {
                _isr |= bit;
            }
        }

        public byte Read(int port)
        {
            if (_pollPending)
            {
                _pollPending = false;
                int level = PendingLevel();
                if (level < 0)
                    return 0;
                Acknowledge(level, applyAutoEoi: false);
                return (byte)(0x80 | level);
            }
            if (port == 1)
                return _imr;
            return _readIsr ? _isr : _irr;
        }

        public void Write(int port, byte value)
        {
            if (port == 0)
            {
                if ((value & 0x10) != 0)
                    WriteIcw1(value);
                else if ((value & 0x08) != 0)
                    WriteOcw3(value);
                else
                    WriteOcw2(value);
                return;
            }

            switch (_initStep)
            {
                case InitStep.Icw2:
                    VectorBase = (byte)(value & 0xF8);
                    _initStep = Single ? AfterIcw3 : InitStep.Icw3;
                    break;
                case InitStep.Icw3:
                    Icw3 = value;
                    _initStep = AfterIcw3;
                    break;
                case InitStep.Icw4:
                    // Bit 0 (8086 mode), bit 2-3 (buffered mode) are not modelled: vectors are always 8086-style.
                    _autoEoi = (value & 0x02) != 0;
                    _specialFullyNested = isMaster && (value & 0x10) != 0;
                    _initStep = InitStep.Ready;
                    break;
                default:
                    _imr = value; // OCW1
                    break;
            }
        }

        private InitStep AfterIcw3 => _icw4Needed ? InitStep.Icw4 : InitStep.Ready;

        private void WriteIcw1(byte value)
        {
            _levelTriggeredAll = (value & 0x08) != 0;
            Single = (value & 0x02) != 0;
            _icw4Needed = (value & 0x01) != 0;
            _initStep = InitStep.Icw2;
            // The data sheet's ICW1 side effects: mask cleared, IR7 lowest priority, special mask mode off,
            // status read set to the IRR, and the edge-sense latches reset (an edge-triggered input must
            // rise again). Without IC4 every ICW4 function is zero.
            _imr = 0;
            _isr = 0;
            _irr = (byte)(_input & LevelTriggered);
            _queuedTimerTicks = 0;
            _lowestPriority = 7;
            _specialMask = false;
            _readIsr = false;
            _pollPending = false;
            _rotateOnAutoEoi = false;
            if (!_icw4Needed)
            {
                _autoEoi = false;
                _specialFullyNested = false;
            }
        }

        private void WriteOcw2(byte value)
        {
            int level = value & 7;
            switch (value >> 5)
            {
                case 0b001: // non-specific EOI
                    EndHighestInService(rotate: false);
                    break;
                case 0b101: // rotate on non-specific EOI
                    EndHighestInService(rotate: true);
                    break;
                case 0b011: // specific EOI
                    _isr &= (byte)~(1 << level);
                    break;
                case 0b111: // rotate on specific EOI
                    _isr &= (byte)~(1 << level);
                    _lowestPriority = level;
                    break;
                case 0b110: // set priority
                    _lowestPriority = level;
                    break;
                case 0b100: // rotate in automatic EOI mode: set
                    _rotateOnAutoEoi = true;
                    break;
                case 0b000: // rotate in automatic EOI mode: clear
                    _rotateOnAutoEoi = false;
                    break;
                default: // 0b010: no operation
                    break;
            }
        }

        /// <summary>Clears the highest-priority in-service bit; in special mask mode, masked levels are skipped.</summary>
        private void EndHighestInService(bool rotate)
        {
            int candidates = _specialMask ? _isr & ~_imr : _isr;
            for (int i = 1; i <= 8; i++)
            {
                int level = (_lowestPriority + i) & 7;
                if ((candidates & (1 << level)) == 0)
                    continue;
                _isr &= (byte)~(1 << level);
                if (rotate)
                    _lowestPriority = level;
                return;
            }
        }

        private void WriteOcw3(byte value)
        {
            if ((value & 0x40) != 0)
                _specialMask = (value & 0x20) != 0;
            if ((value & 0x02) != 0)
                _readIsr = (value & 0x01) != 0;
            if ((value & 0x04) != 0)
                _pollPending = true;
        }
    }
}
