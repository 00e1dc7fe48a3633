using MemoryPack;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Devices.Rtc;

/// <summary>
/// The PC's MC146818 real-time clock and its 128 bytes of CMOS memory, behind the index port 0x70 and the
/// data port 0x71.
/// </summary>
/// <remarks>
/// <para>
/// The clock registers (0x00-0x09 and the century at 0x32) are computed from the host's UTC wall clock when
/// they are read, plus an offset the guest sets by writing them (register B's SET bit freezes them while it
/// is set, as on the chip). They read in BCD unless register B's DM bit is set, 24-hour unless bit 1 is clear.
/// </para>
/// <para>
/// Register C's flags are computed when it is read: PF from the periodic rate in register A (on a grid that
/// starts when the divider chain starts), UF when a second boundary passed, AF when the time matched the
/// alarm. With their enables in register B they raise IRQ 8 through the device timer; the line stays up until
/// register C is read, as the chip's open-drain IRQ does.
/// </para>
/// <para>
/// The BIOS's bytes are filled from the machine at power-on (see <see cref="Reset"/>). Memory sizes assume
/// RAM is one range from address 0: up to 4 GiB below 4 GiB, the rest (none, on this machine) above.
/// </para>
/// </remarks>
public sealed partial class CmosRtc : IDeviceModel<CmosRtc>, ISnapshotable, ITimedDevice
{
    /// <summary>Profile type name.</summary>
    public const string TypeName = "mc146818";

    /// <summary>What a profile may say about this type: the catalog's entry, declared here.</summary>
    public static DeviceTypeInfo Type { get; } = new(TypeName, PortCount: PortCount, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: ["boot-order"])
    {
        ConfigKeyMeanings = new Dictionary<string, string>
        {
            ["boot-order"] = "the BIOS boot order in CMOS, as QEMU's -boot letters (a floppy, c disk, d CD-ROM, n network); default `cad`",
        },
        Summary = "CMOS RTC",
        DefaultIo = DefaultPort,
        FixedIrqs = [8],
    };

    /// <summary>Builds the device <paramref name="config"/> describes (the catalog's factory).</summary>
    public static CmosRtc Create(DeviceConfig config, IDeviceContext context) => new(config, context);

    /// <summary>Default I/O base (index port; the data port follows).</summary>
    public const ushort DefaultPort = 0x70;

    /// <summary>Ports the RTC decodes: the index register and the data register.</summary>
    public const int PortCount = 2;

    /// <summary>ISA line of the RTC's interrupt (the profile's irq overrides it).</summary>
    public const int DefaultIrqLine = 8;

    /// <summary>Config key: the BIOS boot order as QEMU's -boot letters (a floppy, c disk, d CD-ROM, n network); default "cad".</summary>
    public const string BootOrderKey = "boot-order";

    /// <summary>Register A's UIP bit is set for this long before each second boundary.</summary>
    public const long UpdateInProgressNanoseconds = 244_000;

    /// <summary>Equipment byte (0x14): FPU present (bit 1), PS/2 mouse (bit 2, as QEMU sets it), no floppy, display type 00 (EGA/VGA with its own BIOS).</summary>
    public const byte EquipmentByte = 0x06;

    // Register indexes.
    private const int RegA = 0x0A;
    private const int RegB = 0x0B;
    private const int RegC = 0x0C;
    private const int RegD = 0x0D;
    /// <summary>The CMOS register holding the century (BCD or binary as the year), as the FADT tells the guest.</summary>
    public const int Century = 0x32;

    // Register A.
    private const byte UpdateInProgress = 0x80;
    private const byte DividerMask = 0x70;
    private const byte DividerRunning = 0x20; // 32.768 kHz time base, counting
    private const byte RateMask = 0x0F;

    // Register B.
    private const byte Set = 0x80;
    private const byte PeriodicEnable = 0x40;
    private const byte AlarmEnable = 0x20;
    private const byte UpdateEnable = 0x10;
    private const byte BinaryMode = 0x04;
    private const byte Hours24 = 0x02;

    // Register C.
    private const byte InterruptFlag = 0x80;
    private const byte PeriodicFlag = 0x40;
    private const byte AlarmFlag = 0x20;
    private const byte UpdateFlag = 0x10;

    private const long NanosecondsPerSecond = 1_000_000_000;

    /// <summary>A value of <see cref="_armedDeadline"/> that no deadline equals: the next update re-arms.</summary>
    private const long UnknownDeadline = long.MinValue;
    private const long TimeBaseHz = 32_768;
    private const ulong KiB = 1024;
    private const ulong MiB = 1024 * KiB;
    private const ulong FourGiB = 4UL << 30;

    private readonly IDeviceContext _context;
    private readonly TimeProvider _wallClock;
    private readonly int _irqLine;
    private readonly byte[] _bootOrder;

    /// <summary>The 128 bytes; clock registers hold the frozen time only while SET is set (else they are computed).</summary>
    private byte[] _cmos = new byte[128];

    /// <summary>The register the data port reaches (index port bits 0-6).</summary>
    private byte _index;

    /// <summary>Index port bit 7 (NMI disable): kept for read-back of the state, not acted on.</summary>
    private bool _nmiDisabled;

    /// <summary>Guest time minus host UTC time, in .NET ticks (100 ns).</summary>
    private long _clockOffsetTicks;

    /// <summary>Machine time at which the divider chain started counting (the periodic grid's origin).</summary>
    private long _dividerStartNanoseconds;

    /// <summary>Machine time up to which register C's flags are accounted for.</summary>
    private long _flagsCheckedNanoseconds;

    /// <summary>The guest-time second (Unix seconds) seen when the flags were last brought up to date.</summary>
    private long _flagsCheckedSecond;

    /// <summary>The level the interrupt line was last driven to.</summary>
    private bool _irqLevel;

    /// <summary>The deadline the device timer is armed for, or -1.</summary>
    private long _armedDeadline = -1;

    /// <summary>Creates the RTC at the profile's I/O base (0x70 by default), reading the host's wall clock.</summary>
    public CmosRtc(DeviceConfig config, IDeviceContext context)
        : this(config, context, TimeProvider.System)
    {
    }

    /// <summary>Creates the RTC with <paramref name="wallClock"/> as the host's wall clock (tests pass a fake one).</summary>
    /// <exception cref="ArgumentException">The boot order holds a letter other than a, b, c, d or n.</exception>
    public CmosRtc(DeviceConfig config, IDeviceContext context, TimeProvider wallClock)
    {
        _context = context;
        _wallClock = wallClock;
        _irqLine = config.Irq ?? DefaultIrqLine;
        _bootOrder = ParseBootOrder(config.Config.GetValueOrDefault(BootOrderKey, "cad"));
        // Index and data ports are a byte wide (QEMU's cmos_ops: 1..1).
        Regions = [new DeviceRegionInfo("cmos", AddressSpaceKind.Io, config.Io ?? DefaultPort, PortCount, MinAccessSize: 1, MaxAccessSize: 1)];
        Reset();

        // A host may not take timer requests before the device is registered: make the next update arm again.
        _armedDeadline = UnknownDeadline;
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size)
    {
        ulong value = 0;
        for (int i = 0; i < size; i++)
        {
            value |= (ulong)ReadByte(offset + (ulong)i) << (8 * i);
        }

        return value;
    }

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value)
    {
        for (int i = 0; i < size; i++)
        {
            WriteByte(offset + (ulong)i, (byte)(value >> (8 * i)));
        }
    }

    /// <inheritdoc/>
    public void OnTimer(long nowNanoseconds)
    {
        _armedDeadline = -1;
        UpdateFlags(nowNanoseconds);
        ArmTimer(nowNanoseconds);
    }

    /// <summary>Power-on: registers A-D at their BIOS defaults, the machine's sizes in the BIOS bytes, the clock at host time.</summary>
    public void Reset()
    {
        long now = _context.NowNanoseconds;
        _cmos = new byte[128];
        _index = 0;
        _nmiDisabled = false;
        _clockOffsetTicks = 0;
        _cmos[RegA] = DividerRunning | 0x06; // 1024 Hz periodic rate
        _cmos[RegB] = Hours24;
        _cmos[RegD] = 0x80; // valid RAM and time
        FillMachineBytes();
        _dividerStartNanoseconds = now;
        _flagsCheckedNanoseconds = now;
        _flagsCheckedSecond = GuestSecond();
        SetIrqLevel(false);
        ArmTimer(now);
    }

    /// <inheritdoc/>
    public byte[] SaveState() => MemoryPackSerializer.Serialize(new State
    {
        Cmos = [.. _cmos],
        Index = _index,
        NmiDisabled = _nmiDisabled,
        ClockOffsetTicks = _clockOffsetTicks,
        DividerStartNanoseconds = _dividerStartNanoseconds,
        FlagsCheckedNanoseconds = _flagsCheckedNanoseconds,
        FlagsCheckedSecond = _flagsCheckedSecond,
        IrqLevel = _irqLevel,
    });

    /// <inheritdoc/>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        State saved;
        try
        {
            saved = MemoryPackSerializer.Deserialize<State>(state) ?? throw new InvalidDataException("empty RTC state");
        }
        catch (MemoryPackSerializationException e)
        {
            throw new InvalidDataException("not an RTC state", e);
        }

        if (saved.Cmos.Length != 128)
        {
            throw new InvalidDataException($"an RTC state has 128 bytes of CMOS, not {saved.Cmos.Length}");
        }

        _cmos = [.. saved.Cmos];
        _index = saved.Index;
        _nmiDisabled = saved.NmiDisabled;
        _clockOffsetTicks = saved.ClockOffsetTicks;
        _dividerStartNanoseconds = saved.DividerStartNanoseconds;
        _flagsCheckedNanoseconds = saved.FlagsCheckedNanoseconds;
        _flagsCheckedSecond = saved.FlagsCheckedSecond;
        _irqLevel = saved.IrqLevel;
        _armedDeadline = UnknownDeadline;
        ArmTimer(_context.NowNanoseconds);
    }

    /// <summary>The CMOS bytes as stored (clock registers are computed on read, so they are not meaningful here).</summary>
    public ReadOnlySpan<byte> StoredBytes => _cmos;

    private bool DividerIsRunning => (_cmos[RegA] & DividerMask) == DividerRunning;

    private bool ClockIsFrozen => (_cmos[RegB] & Set) != 0;

    private byte ReadByte(ulong offset)
    {
        if (offset == 0)
        {
            return 0xFF; // the index port is write-only
        }

        long now = _context.AccessNanoseconds;
        int index = _index;
        switch (index)
        {
            case RegA:
                return (byte)((_cmos[RegA] & ~UpdateInProgress) | (UpdateIsInProgress() ? UpdateInProgress : 0));
            case RegC:
                UpdateFlags(now);
                byte flags = _cmos[RegC];
                _cmos[RegC] = 0;
                SetIrqLevel(false);
                ArmTimer(now);
                return flags;
            case RegD:
                return 0x80;
            default:
                if (IsClockRegister(index) && !ClockIsFrozen)
                {
                    return EncodeClockRegister(index, GuestTime());
                }

                return _cmos[index];
        }
    }

    private void WriteByte(ulong offset, byte value)
    {
        if (offset == 0)
        {
            _index = (byte)(value & 0x7F);
            _nmiDisabled = (value & 0x80) != 0;
            return;
        }

        long now = _context.AccessNanoseconds;
        int index = _index;
        switch (index)
        {
            case RegA:
                UpdateFlags(now);
                bool wasRunning = DividerIsRunning;
                _cmos[RegA] = (byte)(value & ~UpdateInProgress);
                if (DividerIsRunning && !wasRunning)
                {
                    _dividerStartNanoseconds = now; // leaving divider reset restarts the chain
                }

                ArmTimer(now);
                break;
            case RegB:
                UpdateFlags(now);
                bool wasFrozen = ClockIsFrozen;
                _cmos[RegB] = (byte)((value & Set) != 0 ? value & ~UpdateEnable : value); // SET clears UIE
                if (ClockIsFrozen && !wasFrozen)
                {
                    StoreClock(GuestTime()); // freeze the time as it is, in the format now selected
                }
                else if (!ClockIsFrozen && wasFrozen)
                {
                    ApplyStoredClock();
                    _flagsCheckedSecond = GuestSecond();
                }

                RaiseIrqIfFlagged();
                ArmTimer(now);
                break;
            case RegC:
            case RegD:
                break; // read-only
            default:
                if (IsClockRegister(index) && !ClockIsFrozen)
                {
                    // A write to a running clock sets that field of the time at once.
                    StoreClock(GuestTime());
                    _cmos[index] = value;
                    ApplyStoredClock();
                    _flagsCheckedSecond = GuestSecond();
                    break;
                }

                _cmos[index] = value;
                break;
        }
    }

    private static bool IsClockRegister(int index) => index is 0x00 or 0x02 or 0x04 or 0x06 or 0x07 or 0x08 or 0x09 or Century;

    private DateTime GuestTime() => _wallClock.GetUtcNow().UtcDateTime.AddTicks(_clockOffsetTicks);

    private long GuestSecond() => (GuestTime().Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerSecond;

    /// <summary>Nanoseconds past the current guest-time second.</summary>
    private long GuestSubsecondNanoseconds() => GuestTime().Ticks % TimeSpan.TicksPerSecond * 100;

    private bool UpdateIsInProgress() =>
        DividerIsRunning && !ClockIsFrozen && GuestSubsecondNanoseconds() >= NanosecondsPerSecond - UpdateInProgressNanoseconds;

    /// <summary>Sets register C's flags for what happened since they were last brought up to date.</summary>
    private void UpdateFlags(long now)
    {
        if (DividerIsRunning)
        {
            int rate = _cmos[RegA] & RateMask;
            if (rate != 0 && PeriodsBy(now, rate) > PeriodsBy(_flagsCheckedNanoseconds, rate))
            {
                _cmos[RegC] |= PeriodicFlag;
            }

            long second = GuestSecond();
            if (!ClockIsFrozen && second != _flagsCheckedSecond)
            {
                _cmos[RegC] |= UpdateFlag;
                if (AlarmMatches(GuestTime()))
                {
                    _cmos[RegC] |= AlarmFlag;
                }
            }

            _flagsCheckedSecond = second;
        }

        _flagsCheckedNanoseconds = Math.Max(_flagsCheckedNanoseconds, now);
        RaiseIrqIfFlagged();
    }

    private void RaiseIrqIfFlagged()
    {
        byte enabled = (byte)(_cmos[RegB] & (PeriodicEnable | AlarmEnable | UpdateEnable));
        if ((_cmos[RegC] & enabled & (PeriodicFlag | AlarmFlag | UpdateFlag)) != 0)
        {
            _cmos[RegC] |= InterruptFlag;
            SetIrqLevel(true);
        }
    }

    /// <summary>Arms the timer for the next event that would raise the interrupt, if any can.</summary>
    private void ArmTimer(long now)
    {
        long deadline = -1;
        if (!_irqLevel && DividerIsRunning)
        {
            byte b = _cmos[RegB];
            int rate = _cmos[RegA] & RateMask;
            if ((b & PeriodicEnable) != 0 && rate != 0)
            {
                deadline = TimeOfPeriod(rate, PeriodsBy(now, rate) + 1);
            }

            if ((b & (UpdateEnable | AlarmEnable)) != 0 && !ClockIsFrozen)
            {
                long nextSecond = now + NanosecondsPerSecond - GuestSubsecondNanoseconds();
                deadline = deadline < 0 ? nextSecond : Math.Min(deadline, nextSecond);
            }
        }

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

    /// <summary>
    /// Periodic-interrupt periods completed by machine time <paramref name="now"/> at rate <paramref name="rate"/>
    /// (1-15: 2^(rate-1) cycles of the 32.768 kHz time base; rates 1 and 2 are the same as 8 and 9).
    /// </summary>
    private long PeriodsBy(long now, int rate)
    {
        long elapsed = Math.Max(0, now - _dividerStartNanoseconds);
        long timeBaseTicks = (elapsed / NanosecondsPerSecond * TimeBaseHz) + (elapsed % NanosecondsPerSecond * TimeBaseHz / NanosecondsPerSecond);
        return timeBaseTicks >> PeriodShift(rate);
    }

    /// <summary>The machine time at which period number <paramref name="period"/> ends.</summary>
    private long TimeOfPeriod(int rate, long period)
    {
        long ticks = period << PeriodShift(rate);
        return _dividerStartNanoseconds + (ticks / TimeBaseHz * NanosecondsPerSecond) + (((ticks % TimeBaseHz * NanosecondsPerSecond) + TimeBaseHz - 1) / TimeBaseHz);
    }

    private static int PeriodShift(int rate) => rate <= 2 ? rate + 6 : rate - 1;

    private bool AlarmMatches(DateTime time)
    {
        // An alarm byte of 0xC0-0xFF matches any value.
        return Matches(0x01, 0x00) && Matches(0x03, 0x02) && Matches(0x05, 0x04);

        bool Matches(int alarm, int field) => _cmos[alarm] >= 0xC0 || _cmos[alarm] == EncodeClockRegister(field, time);
    }

    private byte EncodeClockRegister(int index, DateTime time)
    {
        byte b = _cmos[RegB];
        switch (index)
        {
            case 0x00:
                return Encode(time.Second);
            case 0x02:
                return Encode(time.Minute);
            case 0x04:
                if ((b & Hours24) != 0)
                {
                    return Encode(time.Hour);
                }

                int hour12 = time.Hour % 12 == 0 ? 12 : time.Hour % 12;
                return (byte)(Encode(hour12) | (time.Hour >= 12 ? 0x80 : 0));
            case 0x06:
                return Encode((int)time.DayOfWeek + 1); // Sunday is 1
            case 0x07:
                return Encode(time.Day);
            case 0x08:
                return Encode(time.Month);
            case 0x09:
                return Encode(time.Year % 100);
            default:
                return Encode(time.Year / 100);
        }

        byte Encode(int value) => (b & BinaryMode) != 0 ? (byte)value : (byte)(((value / 10) << 4) | (value % 10));
    }

    /// <summary>Writes <paramref name="time"/> into the stored clock registers.</summary>
    private void StoreClock(DateTime time)
    {
        foreach (int index in (ReadOnlySpan<int>)[0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, Century])
        {
            _cmos[index] = EncodeClockRegister(index, time);
        }
    }

    /// <summary>Makes the stored clock registers the guest's time (ignored when they do not form a valid date).</summary>
    private void ApplyStoredClock()
    {
        byte b = _cmos[RegB];
        int Decode(int value) => (b & BinaryMode) != 0 ? value : ((value >> 4) * 10) + (value & 0x0F);

        int hourByte = _cmos[0x04];
        int hour = Decode(hourByte & 0x7F);
        if ((b & Hours24) == 0)
        {
            hour = (hour % 12) + ((hourByte & 0x80) != 0 ? 12 : 0);
        }

        int year = (Decode(_cmos[Century]) * 100) + Decode(_cmos[0x09]);
        int month = Decode(_cmos[0x08]);
        int day = Decode(_cmos[0x07]);
        int minute = Decode(_cmos[0x02]);
        int second = Decode(_cmos[0x00]);
        if (year is < 1 or > 9999 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59)
        {
            return;
        }

        DateTime guest = new(year, month, day, hour, minute, second, DateTimeKind.Utc);
        DateTime host = _wallClock.GetUtcNow().UtcDateTime;

        // The chip restarts the second when the time is set: keep the host's fraction out of the offset.
        _clockOffsetTicks = guest.Ticks - (host.Ticks - (host.Ticks % TimeSpan.TicksPerSecond));
    }

    /// <summary>The memory-size, equipment and boot bytes a PC BIOS reads, and their checksum.</summary>
    private void FillMachineBytes()
    {
        ulong ram = _context.Machine.RamBytes;
        ulong below4G = Math.Min(ram, FourGiB);
        ulong above4G = ram - below4G;

        _cmos[0x10] = 0x00; // no floppy drives
        _cmos[0x14] = EquipmentByte;
        SetWord(0x15, 640); // base memory in KiB

        ulong extendedKiB = below4G > MiB ? Math.Min((below4G - MiB) / KiB, 0xFFFF) : 0;
        SetWord(0x17, (ushort)extendedKiB);
        SetWord(0x30, (ushort)extendedKiB);

        ulong above16M = below4G > 16 * MiB ? Math.Min((below4G - (16 * MiB)) / (64 * KiB), 0xFFFF) : 0;
        SetWord(0x34, (ushort)above16M);

        ulong high = above4G / (64 * KiB);
        _cmos[0x5B] = (byte)high;
        _cmos[0x5C] = (byte)(high >> 8);
        _cmos[0x5D] = (byte)(high >> 16);
        _cmos[0x5F] = (byte)Math.Max(0, _context.Machine.CpuCount - 1);

        // Boot order as QEMU and Bochs BIOSes keep it: 0x3D = second and first device, 0x38 high nibble = third.
        _cmos[0x3D] = (byte)((_bootOrder[1] << 4) | _bootOrder[0]);
        _cmos[0x38] = (byte)(_bootOrder[2] << 4);

        int sum = 0;
        for (int i = 0x10; i <= 0x2D; i++)
        {
            sum += _cmos[i];
        }

        _cmos[0x2E] = (byte)(sum >> 8);
        _cmos[0x2F] = (byte)sum;
    }

    private void SetWord(int index, ushort value)
    {
        _cmos[index] = (byte)value;
        _cmos[index + 1] = (byte)(value >> 8);
    }

    private static byte[] ParseBootOrder(string letters)
    {
        byte[] order = new byte[3];
        for (int i = 0; i < letters.Length && i < order.Length; i++)
        {
            order[i] = char.ToLowerInvariant(letters[i]) switch
            {
                'a' or 'b' => 1,
                'c' => 2,
                'd' => 3,
                'n' => 4,
                _ => throw new ArgumentException($"boot-order '{letters}': '{letters[i]}' is not one of a, b, c, d, n", nameof(letters)),
            };
        }

        return order;
    }

    private void SetIrqLevel(bool level)
    {
        if (level != _irqLevel)
        {
            _irqLevel = level;
            _context.SetIrqLine(_irqLine, level);
        }
    }

    /// <summary>The RTC's saved state. Append-only: never reorder, retype or remove a member.</summary>
    [MemoryPackable]
    internal sealed partial class State
    {
        public byte[] Cmos { get; set; } = [];

        public byte Index { get; set; }

        public bool NmiDisabled { get; set; }

        public long ClockOffsetTicks { get; set; }

        public long DividerStartNanoseconds { get; set; }

        public long FlagsCheckedNanoseconds { get; set; }

        public long FlagsCheckedSecond { get; set; }

        public bool IrqLevel { get; set; }
    }
}
