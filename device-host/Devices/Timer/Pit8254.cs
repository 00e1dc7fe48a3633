using MemoryPack;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Devices.Timer;

/// <summary>
/// The PC's 8254 programmable interval timer (three channels at 1.193182 MHz) and the system control port B
/// (port 0x61) that gates channel 2 and reads back its output.
/// </summary>
/// <remarks>
/// <para>
/// Nothing ticks. Each channel remembers the PIT clock tick at which its counting element was loaded
/// (<see cref="Channel.Start"/>) and the count it was loaded with; its counter and OUT pin at any moment are
/// computed from the machine clock at the guest's access (<see cref="IDeviceContext.AccessNanoseconds"/>, so a
/// crash replay reads the counts the guest read). Tick <c>n</c> is the
/// <c>n</c>-th edge of the 1.193182 MHz clock since machine time 0, so saved ticks mean the same thing in
/// every process and a restored PIT continues where it was.
/// </para>
/// <para>
/// Channel 0 drives ISA IRQ 0. In modes 2 to 5 the line rests low and each rising edge of OUT is one pulse
/// (raised, then lowered, so the edge-triggered PIC latches one interrupt): the PIT hands the edges to the machine
/// as a pulse train (<see cref="IDeviceContext.SetPulseTrain"/>; modes 4 and 5 a train of one), restated whenever
/// the guest reprograms the channel, and the CPU process delivers them on time in machine time however this
/// process is scheduled. A guest counting ticks (Linux's PIT clocksource, jiffies) so never sees one late by a
/// period, and the process sleeps between guest accesses. In modes 0 and 1 the line follows OUT (mode 0: rises at
/// terminal count), by the device timer.
/// </para>
/// <para>
/// A write is loaded into the counting element on the next clock edge, as on the chip: in mode 0 OUT goes high
/// N + 1 ticks after the count was written. That is what SeaBIOS's TSC calibration measures (gate channel 2
/// on through port 0x61, mode 0, count 2048, poll port 0x61 bit 5).
/// </para>
/// </remarks>
public sealed partial class Pit8254 : IDeviceModel<Pit8254>, ISnapshotable, ITimedDevice
{
    /// <summary>Profile type name.</summary>
    public const string TypeName = "i8254";

    /// <summary>What a profile may say about this type: the catalog's entry, declared here.</summary>
    public static DeviceTypeInfo Type { get; } = new(TypeName, PortCount: 4, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: [])
    {
        Summary = "interval timer; 0x61 is the speaker and timer 2 gate",
        DefaultIo = DefaultPort,
        FixedPorts = [new(0x61, 1)],
        FixedIrqs = [0],
    };

    /// <summary>Builds the device <paramref name="config"/> describes (the catalog's factory).</summary>
    public static Pit8254 Create(DeviceConfig config, IDeviceContext context) => new(config, context);

    /// <summary>The input clock of every channel, in Hz.</summary>
    public const long InputHz = 1_193_182;

    /// <summary>Default base port of the four PIT registers.</summary>
    public const ushort DefaultPort = 0x40;

    /// <summary>The system control port B.</summary>
    public const ushort Port61 = 0x61;

    /// <summary>Region index of the PIT registers (counters 0-2 and the mode register).</summary>
    public const int PitRegion = 0;

    /// <summary>Region index of port 0x61.</summary>
    public const int Port61Region = 1;

    /// <summary>Half period of port 0x61's refresh-request bit (bit 4), in nanoseconds (DRAM refresh every 15.085 us).</summary>
    public const long RefreshToggleNanoseconds = 15_085;

    /// <summary>ISA line driven by channel 0's OUT.</summary>
    public const int IrqLine = 0;

    /// <summary>A value of <see cref="_armedDeadline"/> that no deadline equals: the next update re-arms.</summary>
    private const long UnknownDeadline = long.MinValue;

    /// <summary>Port 0x61 bits the guest may set: 0 gate 2, 1 speaker data, 2 parity check disable, 3 channel check disable.</summary>
    private const byte Port61WritableBits = 0x0F;

    private readonly IDeviceContext _context;
    private readonly Channel[] _channels = [new(), new(), new()];

    /// <summary>Port 0x61 bits 0-3 as last written.</summary>
    private byte _port61;

    /// <summary>The level IRQ 0 was last driven to.</summary>
    private bool _irqLevel;

    /// <summary>The deadline the device timer is armed for (machine nanoseconds), or -1 when it is disarmed.</summary>
    private long _armedDeadline = -1;

    /// <summary>The pulse train last handed to the machine for IRQ 0 (null: none), valid when <see cref="_trainAnnounced"/>.</summary>
    private PulseTrain? _announcedTrain;

    /// <summary>False until the machine was told channel 0's train (and after a restore): the next update tells it.</summary>
    private bool _trainAnnounced;

    /// <summary>Creates the PIT at the profile's I/O base (0x40 by default) and port 0x61.</summary>
    public Pit8254(DeviceConfig config, IDeviceContext context)
    {
        _context = context;
        Regions =
        [
            // Byte-wide ports (QEMU's pit_ioport_ops and pcspk_io_ops: 1..1): the bus splits a wider access.
            new DeviceRegionInfo("pit", AddressSpaceKind.Io, config.Io ?? DefaultPort, 4, MinAccessSize: 1, MaxAccessSize: 1),
            new DeviceRegionInfo("port61", AddressSpaceKind.Io, Port61, 1, MinAccessSize: 1, MaxAccessSize: 1),
        ];
        Reset();

        // A host may not take timer requests or events before the device is registered: make the next update
        // arm and announce again.
        _armedDeadline = UnknownDeadline;
        _trainAnnounced = false;
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <summary>The PIT tick at machine time <paramref name="nanoseconds"/> (edges of the input clock since time 0).</summary>
    public static long TicksAt(long nanoseconds) => PulseTrain.TicksAt(nanoseconds, InputHz);

    /// <summary>The earliest machine time at which tick <paramref name="tick"/> has happened.</summary>
    public static long TimeOfTick(long tick) => PulseTrain.TimeOfTick(tick, InputHz);

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size)
    {
        long tick = TicksAt(_context.AccessNanoseconds); // the guest's time of the access: a replay reads the same count
        if (_armedDeadline == UnknownDeadline || !_trainAnnounced)
        {
            UpdateChannel0Irq(tick); // the first access after construction or restore arms the timer and states the train
        }

        ulong value = 0;
        for (int i = 0; i < size; i++)
        {
            // An ISA bus splits a wide access into byte accesses at consecutive ports.
            value |= (ulong)ReadByte(region, offset + (ulong)i, tick) << (8 * i);
        }

        return value;
    }

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value)
    {
        long tick = TicksAt(_context.AccessNanoseconds);
        for (int i = 0; i < size; i++)
        {
            WriteByte(region, offset + (ulong)i, (byte)(value >> (8 * i)), tick);
        }

        UpdateChannel0Irq(tick);
    }

    /// <inheritdoc/>
    public void OnTimer(long nowNanoseconds)
    {
        _armedDeadline = -1; // it fired
        UpdateChannel0Irq(TicksAt(nowNanoseconds));
    }

    /// <summary>
    /// Power-on state, as QEMU has it (so the two machines' logs compare): every channel in mode 3 with count
    /// 65536 running from now, channel 2's gate low. The BIOS reprograms all of it.
    /// </summary>
    public void Reset()
    {
        long tick = TicksAt(_context.NowNanoseconds);
        for (int i = 0; i < _channels.Length; i++)
        {
            _channels[i] = new Channel { Gate = i != 2 };
            Channel channel = _channels[i];
            channel.WriteControl(mode: 3, access: 3, bcd: false);
            channel.WriteCount(0, tick);
        }

        _port61 = 0;
        _trainAnnounced = false; // a machine reset cancelled every train: state the power-on one
        if (_irqLevel)
        {
            _irqLevel = false;
            _context.SetIrqLine(IrqLine, false);
        }

        UpdateChannel0Irq(tick);
    }

    /// <inheritdoc/>
    public byte[] SaveState() => MemoryPackSerializer.Serialize(new State
    {
        Channels = [.. _channels],
        Port61 = _port61,
        IrqLevel = _irqLevel,
    });

    /// <inheritdoc/>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        State saved;
        try
        {
            saved = MemoryPackSerializer.Deserialize<State>(state) ?? throw new InvalidDataException("empty PIT state");
        }
        catch (MemoryPackSerializationException e)
        {
            throw new InvalidDataException("not a PIT state", e);
        }

        if (saved.Channels.Length != _channels.Length)
        {
            throw new InvalidDataException($"a PIT state has 3 channels, not {saved.Channels.Length}");
        }

        saved.Channels.CopyTo(_channels, 0);
        _port61 = saved.Port61;
        _irqLevel = saved.IrqLevel;

        // The timer belonged to the old incarnation: arm ours for channel 0's next event. The train is not stated
        // again: the machine kept the one the old incarnation last stated running through the crash, and that is
        // this state's or a later one, which the journal's replayed writes (whose trains the machine ignores) lead
        // to. Stating this older one would replace the machine's newer train.
        _armedDeadline = UnknownDeadline;
        _announcedTrain = Channel0Train();
        _trainAnnounced = true;
        UpdateChannel0Irq(TicksAt(_context.NowNanoseconds));
    }

    private byte ReadByte(int region, ulong offset, long tick)
    {
        if (region == Port61Region)
        {
            if (offset != 0)
            {
                return 0xFF;
            }

            bool refresh = (Math.Max(0, _context.AccessNanoseconds) / RefreshToggleNanoseconds & 1) != 0;
            bool out2 = _channels[2].Out(tick);
            return (byte)((_port61 & Port61WritableBits) | (refresh ? 0x10 : 0) | (out2 ? 0x20 : 0));
        }

        return offset switch
        {
            < 3 => _channels[(int)offset].ReadData(tick),
            _ => 0xFF, // the mode register is write-only
        };
    }

    private void WriteByte(int region, ulong offset, byte value, long tick)
    {
        if (region == Port61Region)
        {
            if (offset == 0)
            {
                _port61 = (byte)(value & Port61WritableBits);
                _channels[2].SetGate((value & 0x01) != 0, tick);
            }

            return;
        }

        switch (offset)
        {
            case < 3:
                _channels[(int)offset].WriteData(value, tick);
                break;
            case 3:
                WriteModeRegister(value, tick);
                break;
        }
    }

    private void WriteModeRegister(byte value, long tick)
    {
        int select = value >> 6;
        if (select == 3)
        {
            // Read-back: bit 5 clear latches the counts, bit 4 clear latches the status, bits 1-3 pick channels 0-2.
            for (int i = 0; i < _channels.Length; i++)
            {
                if ((value & (0x02 << i)) == 0)
                {
                    continue;
                }

                if ((value & 0x10) == 0)
                {
                    _channels[i].LatchStatus(tick);
                }

                if ((value & 0x20) == 0)
                {
                    _channels[i].LatchCount(tick);
                }
            }

            return;
        }

        Channel channel = _channels[select];
        int access = (value >> 4) & 3;
        if (access == 0)
        {
            channel.LatchCount(tick);
            return;
        }

        int mode = (value >> 1) & 7;
        channel.WriteControl(mode > 5 ? mode - 4 : mode, access, (value & 1) != 0);
    }

    /// <summary>Brings IRQ 0 up to date with channel 0 at <paramref name="tick"/>: its pulse train, or its level and the timer for its next change.</summary>
    private void UpdateChannel0Irq(long tick)
    {
        Channel channel = _channels[0];
        if (channel.Mode >= 2)
        {
            // Modes 2 and 3: OUT rises at Start + k * Count (k >= 1); modes 4 and 5: once, when the strobe ends.
            SetIrqLevel(false);
            AnnounceTrain(Channel0Train());
            ArmTimer(-1);
            return;
        }

        AnnounceTrain(null);
        SetIrqLevel(channel.Out(tick));
        long next = channel.NextOutRiseTick(tick);
        ArmTimer(next < 0 ? -1 : TimeOfTick(next));
    }

    /// <summary>
    /// Channel 0's rising edges of OUT as a train, or null: modes 2 and 3 at Start + k * Count (k >= 1; a count of 1
    /// never lets OUT fall, so it has none), modes 4 and 5 once, when the strobe ends.
    /// </summary>
    private PulseTrain? Channel0Train()
    {
        Channel channel = _channels[0];
        return channel.Mode switch
        {
            2 or 3 when channel.IsPeriodicRunning && channel.Count >= 2 => new PulseTrain(channel.Start + channel.Count, channel.Count, InputHz),
            4 or 5 when channel.StrobeEndTick >= 0 => new PulseTrain(channel.StrobeEndTick, 0, InputHz),
            _ => null,
        };
    }

    /// <summary>Hands channel 0's pulse train to the machine (null: stops it), when it changed.</summary>
    private void AnnounceTrain(PulseTrain? train)
    {
        if (_trainAnnounced && train == _announcedTrain)
        {
            return;
        }

        _trainAnnounced = true;
        _announcedTrain = train;
        if (train is { } running)
        {
            _context.SetPulseTrain(IrqLine, running);
        }
        else
        {
            _context.CancelPulseTrain(IrqLine);
        }
    }

    /// <summary>Arms the device timer for <paramref name="deadline"/> (machine nanoseconds; -1 disarms), when it changed.</summary>
    private void ArmTimer(long deadline)
    {
        if (deadline == _armedDeadline)
        {
            return;
        }

        _armedDeadline = deadline;
        if (deadline < 0)
        {
            _context.CancelTimer();
        }
        else
        {
            _context.SetTimer(deadline);
        }
    }

    private void SetIrqLevel(bool level)
    {
        if (level != _irqLevel)
        {
            _irqLevel = level;
            _context.SetIrqLine(IrqLine, level);
        }
    }

    /// <summary>The PIT's saved state. Append-only: never reorder, retype or remove a member.</summary>
    [MemoryPackable]
    internal sealed partial class State
    {
        public Channel[] Channels { get; set; } = [];

        public byte Port61 { get; set; }

        public bool IrqLevel { get; set; }

        /// <summary>Unused since the machine delivers the pulses (kept: the layout is append-only).</summary>
        public long LastPulseTick { get; set; }

        /// <summary>Unused since the machine delivers the pulses (kept: the layout is append-only).</summary>
        public long OwedPulses { get; set; }

        /// <summary>Unused since the machine delivers the pulses (kept: the layout is append-only).</summary>
        public long NextCatchUpTick { get; set; }
    }

    /// <summary>
    /// One counter. Its state is its own saved form (append-only). Counts are kept in binary (1-65536, or
    /// 1-10000 in BCD mode); the guest sees them in its chosen format.
    /// </summary>
    [MemoryPackable]
    internal sealed partial class Channel
    {
        /// <summary>Mode 0-5.</summary>
        public int Mode { get; set; }

        /// <summary>Read/write access: 1 low byte, 2 high byte, 3 low then high.</summary>
        public int Access { get; set; } = 3;

        /// <summary>Counts are 4-digit BCD.</summary>
        public bool Bcd { get; set; }

        /// <summary>The gate input (channels 0 and 1: tied high; channel 2: port 0x61 bit 0).</summary>
        public bool Gate { get; set; }

        /// <summary>The last count written (the count register), in binary.</summary>
        public long Reload { get; set; }

        /// <summary>A count was written since the last control word.</summary>
        public bool HasCount { get; set; }

        /// <summary>The count the counting element was loaded with (valid when <see cref="Started"/>).</summary>
        public long Count { get; set; } = 65536;

        /// <summary>The counting element has been loaded (modes 1 and 5: triggered) since the control word.</summary>
        public bool Started { get; set; }

        /// <summary>PIT tick at which the counting element holds <see cref="Count"/> (0 ticks elapsed).</summary>
        public long Start { get; set; }

        /// <summary>Counting is suspended by a low gate; <see cref="FrozenElapsed"/> holds the ticks counted.</summary>
        public bool Frozen { get; set; }

        /// <summary>Ticks counted when the gate went low.</summary>
        public long FrozenElapsed { get; set; }

        /// <summary>Low byte of a low-then-high write, waiting for its high byte.</summary>
        public byte PendingLowByte { get; set; }

        /// <summary>The next data write is the high byte of a low-then-high write.</summary>
        public bool WriteHighNext { get; set; }

        /// <summary>The next unlatched read returns the high byte (low-then-high access).</summary>
        public bool ReadHighNext { get; set; }

        /// <summary>Latched count (in the guest's format).</summary>
        public int LatchedCount { get; set; }

        /// <summary>Bytes of <see cref="LatchedCount"/> still to read (0: no latch).</summary>
        public int LatchedBytes { get; set; }

        /// <summary>The next latched byte is the high byte.</summary>
        public bool LatchHighNext { get; set; }

        /// <summary>A read-back status byte is waiting to be read (it comes before a latched count).</summary>
        public bool StatusLatched { get; set; }

        /// <summary>The latched status byte.</summary>
        public byte LatchedStatus { get; set; }

        /// <summary>Mode 2 or 3, counting.</summary>
        internal bool IsPeriodicRunning => Mode is 2 or 3 && Started && !Frozen;

        /// <summary>In modes 4 and 5, the tick at which OUT comes back high after its terminal-count strobe; else -1.</summary>
        internal long StrobeEndTick => Mode is 4 or 5 && Started && !Frozen ? Start + Count + 1 : -1;

        private long Modulus => Bcd ? 10000 : 65536;

        public void WriteControl(int mode, int access, bool bcd)
        {
            Mode = mode;
            Access = access;
            Bcd = bcd;
            HasCount = Started = Frozen = false;
            WriteHighNext = ReadHighNext = LatchHighNext = StatusLatched = false;
            LatchedBytes = 0;
        }

        public void WriteData(byte value, long tick)
        {
            switch (Access)
            {
                case 1:
                    WriteCount(value, tick);
                    break;
                case 2:
                    WriteCount(value << 8, tick);
                    break;
                default:
                    if (!WriteHighNext)
                    {
                        PendingLowByte = value;
                        WriteHighNext = true;
                        if (Mode == 0)
                        {
                            Started = false; // the first byte stops a mode 0 count: OUT low until the new one is loaded
                        }

                        break;
                    }

                    WriteHighNext = false;
                    WriteCount(PendingLowByte | (value << 8), tick);
                    break;
            }
        }

        /// <summary>A complete count <paramref name="raw"/> (as the guest wrote it) arrives at <paramref name="tick"/>.</summary>
        public void WriteCount(int raw, long tick)
        {
            long count = Bcd ? FromBcd(raw) : raw;
            Reload = count == 0 ? Modulus : count;
            HasCount = true;
            long load = tick + 1; // loaded into the counting element on the next clock edge
            switch (Mode)
            {
                case 0:
                case 4:
                    Count = Reload;
                    Start = load;
                    Started = true;
                    Frozen = !Gate;
                    FrozenElapsed = 0;
                    break;
                case 2:
                case 3:
                    if (IsPeriodicRunning && tick >= Start)
                    {
                        // A new count takes effect at the end of the current period: place it so that its first
                        // rising edge is that period's end.
                        long periodEnd = Start + (((tick - Start) / Count) + 1) * Count;
                        Count = Reload;
                        Start = periodEnd - Count;
                    }
                    else if (Gate)
                    {
                        Count = Reload;
                        Start = load;
                        Started = true;
                        Frozen = false;
                    }

                    break;

                // Modes 1 and 5 load the count on the next rising edge of the gate.
            }
        }

        public void SetGate(bool gate, long tick)
        {
            if (gate == Gate)
            {
                return;
            }

            Gate = gate;
            if (gate)
            {
                switch (Mode)
                {
                    case 0:
                    case 4:
                        if (Frozen)
                        {
                            Frozen = false;
                            Start = tick - FrozenElapsed;
                        }

                        break;
                    default:
                        // Modes 1, 2, 3 and 5: a rising gate (re)loads the count and starts it.
                        if (HasCount)
                        {
                            Count = Reload;
                            Start = tick + 1;
                            Started = true;
                            Frozen = false;
                        }

                        break;
                }
            }
            else if (Mode is 0 or 2 or 3 or 4 && Started && !Frozen)
            {
                // A low gate suspends counting (modes 2 and 3 also force OUT high; a rising gate reloads them).
                FrozenElapsed = tick - Start;
                Frozen = true;
            }
        }

        public void LatchCount(long tick)
        {
            if (LatchedBytes != 0)
            {
                return; // a latched count stays until it is read
            }

            LatchedCount = GuestCount(tick);
            LatchedBytes = Access == 3 ? 2 : 1;
            LatchHighNext = false;
        }

        public void LatchStatus(long tick)
        {
            if (StatusLatched)
            {
                return;
            }

            bool nullCount = !Started || (!Frozen && tick < Start);
            LatchedStatus = (byte)((Out(tick) ? 0x80 : 0) | (nullCount ? 0x40 : 0) | (Access << 4) | (Mode << 1) | (Bcd ? 1 : 0));
            StatusLatched = true;
        }

        public byte ReadData(long tick)
        {
            if (StatusLatched)
            {
                StatusLatched = false;
                return LatchedStatus;
            }

            if (LatchedBytes != 0)
            {
                bool high = Access == 2 || (Access == 3 && LatchHighNext);
                LatchHighNext = !LatchHighNext;
                LatchedBytes--;
                return (byte)(high ? LatchedCount >> 8 : LatchedCount);
            }

            int count = GuestCount(tick);
            switch (Access)
            {
                case 1:
                    return (byte)count;
                case 2:
                    return (byte)(count >> 8);
                default:
                    bool readHigh = ReadHighNext;
                    ReadHighNext = !ReadHighNext;
                    return (byte)(readHigh ? count >> 8 : count);
            }
        }

        /// <summary>The OUT pin at <paramref name="tick"/>.</summary>
        public bool Out(long tick)
        {
            if (!Started)
            {
                return Mode != 0; // after the control word: low in mode 0, high in the others
            }

            long elapsed = Frozen ? FrozenElapsed : tick - Start;
            return Mode switch
            {
                0 => elapsed >= Count,
                1 => elapsed < 0 || elapsed >= Count,
                2 => Frozen || elapsed < 0 || Count < 2 || elapsed % Count != Count - 1,
                3 => Frozen || elapsed < 0 || elapsed % Count < (Count + 1) / 2,
                _ => elapsed != Count,
            };
        }

        /// <summary>
        /// In modes 0 and 1, where IRQ 0 follows OUT by the device timer: the tick at which OUT rises at terminal count
        /// after <paramref name="tick"/>, or -1 (the other modes' edges are a pulse train).
        /// </summary>
        public long NextOutRiseTick(long tick) =>
            Started && !Frozen && Mode is 0 or 1 && tick - Start < Count ? Start + Count : -1;

        /// <summary>The counter at <paramref name="tick"/> as the guest reads it (binary or BCD).</summary>
        private int GuestCount(long tick)
        {
            long value = CounterValue(tick);
            return Bcd ? ToBcd((int)(value % 10000)) : (int)(value & 0xFFFF);
        }

        private long CounterValue(long tick)
        {
            if (!Started)
            {
                return HasCount ? Reload : Count;
            }

            long elapsed = Frozen ? FrozenElapsed : tick - Start;
            if (elapsed < 0)
            {
                return Count;
            }

            switch (Mode)
            {
                case 2:
                    return Count - (elapsed % Count);
                case 3:
                    // Counts down by two, twice per period (the high half, then the low half).
                    long phase = elapsed % Count;
                    long half = (Count + 1) / 2;
                    return Count - (2 * (phase < half ? phase : phase - half));
                default:
                    // Modes 0, 1, 4 and 5 count down and wrap past zero.
                    return (((Count - elapsed) % Modulus) + Modulus) % Modulus;
            }
        }

        private static long FromBcd(int raw) =>
            ((raw >> 12) & 0xF) * 1000 + ((raw >> 8) & 0xF) * 100 + ((raw >> 4) & 0xF) * 10 + (raw & 0xF);

        private static int ToBcd(int value) =>
            ((value / 1000 % 10) << 12) | ((value / 100 % 10) << 8) | ((value / 10 % 10) << 4) | (value % 10);
    }
}
