using MemoryPack;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Devices.Power;

/// <summary>
/// The ACPI fixed hardware a kernel needs from a PC without firmware power management: the PM1a event block
/// (status, enable), the PM1a control block (SCI_EN, sleep type and enable) and the 32-bit ACPI PM timer at
/// 3.579545 MHz on the machine clock, at 12 ports (default 0x600, as QEMU's PIIX4 PM), with the SCI on an
/// IRQ line (default 9). A directly booted kernel finds it through the FADT the loader writes
/// (cpu-host/Machine/AcpiTables.cs). Linux then calibrates its TSC against the PM timer and can power off:
/// writing sleep type 5 (the DSDT's \_S5) with SLP_EN ends the machine with exit code 0.
/// </summary>
/// <remarks>
/// Only the timer raises the SCI (TMR_STS when bit 31 of the timer changes, if TMR_EN); there is no power or
/// sleep button (the FADT says so) and no sleep state but S5. SMI_CMD is 0 in the FADT, so the machine is
/// always in ACPI mode: SCI_EN reads 1. Place it inline: a kernel reads the timer often, and each read of an
/// isolated one is a ring round trip.
/// </remarks>
public sealed partial class AcpiPowerManagement : IDeviceModel<AcpiPowerManagement>, ISnapshotable, ITimedDevice
{
    /// <summary>Profile type name.</summary>
    public const string TypeName = "acpi-pm";

    /// <summary>What a profile may say about this type: the catalog's entry, declared here.</summary>
    public static DeviceTypeInfo Type { get; } = new(TypeName, PortCount: (int)PortCount, MmioSize: 0, IrqUse.Required, CanBeConsole: false, ConfigKeys: [])
    {
        Summary = "ACPI PM1 event/control blocks and PM timer; `irq` is the SCI (9 on a PC); sleep type 5 powers off (exit code 0); a directly booted kernel finds it through the loader's FADT",
        EndsMachine = true,
        DefaultIo = DefaultBase,
    };

    /// <summary>Builds the device <paramref name="config"/> describes (the catalog's factory).</summary>
    public static AcpiPowerManagement Create(DeviceConfig config, IDeviceContext context) => new(config, context);

    /// <summary>Ports occupied: PM1a_EVT (4), PM1a_CNT (2, then 2 unused), PM_TMR (4).</summary>
    public const ulong PortCount = 12;

    /// <summary>Default I/O base and SCI line.</summary>
    public const ushort DefaultBase = 0x600;
    public const int DefaultSci = 9;

    /// <summary>Offsets of the registers within the region.</summary>
    public const int StatusOffset = 0, EnableOffset = 2, ControlOffset = 4, TimerOffset = 8;

    /// <summary>The sleep type the DSDT's \_S5 names (soft off).</summary>
    public const int SoftOffSleepType = 5;

    /// <summary>PM timer frequency.</summary>
    public const long TimerHertz = 3_579_545;

    private const ushort TimerStatus = 1 << 0, TimerEnable = 1 << 0;
    private const ushort StatusWritableMask = 0x8F31;  // TMR, BM, GBL, PWRBTN, SLPBTN, RTC, WAK: write 1 to clear
    private const ushort EnableWritableMask = 0x0721;  // TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN
    private const ushort ControlSciEnable = 1 << 0;
    private const ushort ControlStoredMask = 0x1C06;   // BM_RLD, GBL_RLS, SLP_TYP
    private const ushort ControlSleepEnable = 1 << 13;
    private const int SleepTypeShift = 10;

    private readonly IDeviceContext _context;

    /// <summary>PM1_EN as written.</summary>
    private ushort _enable;

    /// <summary>PM1_CNT's stored bits.</summary>
    private ushort _control;

    /// <summary>Bit 31 epoch (timer ticks / 2^31) the guest last acknowledged TMR_STS at.</summary>
    private long _acknowledgedTimerEpoch;

    private bool _sciLevel;
    private bool _poweredOff;

    /// <summary>Creates the block at the profile's I/O base.</summary>
    public AcpiPowerManagement(DeviceConfig config, IDeviceContext context)
    {
        _context = context;
        // 1..4: the 32-bit PM timer must be one access (one reading of the clock). QEMU implements PM1 with a 2-byte
        // minimum, but widening would write zeros over the other byte of PM1_EN or PM1_CNT; this model merges each
        // byte into its 16-bit register itself, as byte enables would.
        Regions = [new DeviceRegionInfo("pm", AddressSpaceKind.Io, config.Io ?? DefaultBase, PortCount, MinAccessSize: 1, MaxAccessSize: 4)];
        Reset();
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <inheritdoc/>
    public void Reset()
    {
        _enable = 0;
        _control = 0;
        _acknowledgedTimerEpoch = TimerTicks() >> 31;
        _poweredOff = false;
        _context.CancelTimer();
        UpdateSci();
    }

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size)
    {
        // One reading of the clock for the whole access: the machine clock runs on between the bytes, and a 32-bit
        // read of the timer assembled from bytes of different instants tears at a carry (Linux's acpi_pm checks
        // three reads in a row for that, and finding one going backwards, refuses the clocksource).
        long ticks = TimerTicks();
        ulong value = 0;
        for (int i = 0; i < size && (int)offset + i < (int)PortCount; i++)
        {
            value |= (ulong)RegisterByte((int)offset + i, ticks) << (8 * i);
        }

        return value;
    }

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value)
    {
        for (int i = 0; i < size && (int)offset + i < (int)PortCount; i++)
        {
            WriteByte((int)offset + i, (byte)(value >> (8 * i)));
        }

        UpdateSci();
    }

    /// <inheritdoc/>
    public void OnTimer(long nowNanoseconds) => UpdateSci();

    /// <inheritdoc/>
    public byte[] SaveState() => MemoryPackSerializer.Serialize(new State
    {
        Enable = _enable,
        Control = _control,
        AcknowledgedTimerEpoch = _acknowledgedTimerEpoch,
        PoweredOff = _poweredOff,
    });

    /// <inheritdoc/>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        State saved;
        try
        {
            saved = MemoryPackSerializer.Deserialize<State>(state) ?? throw new InvalidDataException("empty ACPI PM state");
        }
        catch (MemoryPackSerializationException e)
        {
            throw new InvalidDataException("not an ACPI PM state", e);
        }

        _enable = (ushort)(saved.Enable & EnableWritableMask);
        _control = (ushort)(saved.Control & ControlStoredMask);
        _acknowledgedTimerEpoch = saved.AcknowledgedTimerEpoch;
        _poweredOff = saved.PoweredOff;
        UpdateSci();
    }

    /// <summary>The PM timer's count at the access (or now, outside one): 3.579545 MHz ticks of the machine clock (the register shows the low 32 bits).</summary>
    private long TimerTicks() => (long)((Int128)Math.Max(0, _context.AccessNanoseconds) * TimerHertz / 1_000_000_000);

    private ushort Status() => Status(TimerTicks());

    private ushort Status(long ticks) => (ushort)((ticks >> 31) != _acknowledgedTimerEpoch ? TimerStatus : 0);

    /// <summary>Byte <paramref name="offset"/> of the registers, the timer's and its status bit as of <paramref name="ticks"/>.</summary>
    private byte RegisterByte(int offset, long ticks)
    {
        ushort word = offset switch
        {
            < EnableOffset => Status(ticks),
            < ControlOffset => _enable,
            < ControlOffset + 2 => (ushort)(_control | ControlSciEnable),
            < TimerOffset => 0,
            _ => 0,
        };
        if (offset >= TimerOffset)
        {
            return (byte)((uint)ticks >> (8 * (offset - TimerOffset)));
        }

        return (byte)(word >> (8 * (offset & 1)));
    }

    private void WriteByte(int offset, byte data)
    {
        ushort shifted = (ushort)(data << (8 * (offset & 1)));
        switch (offset)
        {
            case < EnableOffset:
                if ((shifted & StatusWritableMask & TimerStatus) != 0)
                {
                    _acknowledgedTimerEpoch = TimerTicks() >> 31; // write 1 to clear
                }

                break;
            case < ControlOffset:
                ushort keep = (ushort)(offset == EnableOffset ? 0xFF00 : 0x00FF);
                _enable = (ushort)(((_enable & keep) | shifted) & EnableWritableMask);
                break;
            case < ControlOffset + 2:
                ushort keepControl = (ushort)(offset == ControlOffset ? 0xFF00 : 0x00FF);
                ushort written = (ushort)((_control & keepControl) | shifted);
                _control = (ushort)(written & ControlStoredMask);
                if ((shifted & ControlSleepEnable) != 0)
                {
                    Sleep((_control >> SleepTypeShift) & 7);
                }

                break;
        }
    }

    /// <summary>SLP_EN written: S5 ends the machine (exit code 0); no other sleep state exists on this machine.</summary>
    private void Sleep(int sleepType)
    {
        if (sleepType == SoftOffSleepType && !_poweredOff)
        {
            _poweredOff = true;
            _context.RequestMachineExit(0, (ulong)sleepType);
        }
    }

    /// <summary>Drives the SCI from TMR_STS and TMR_EN; while it is enabled and clear, wakes at the next carry of bit 31.</summary>
    private void UpdateSci()
    {
        bool level = (Status() & _enable & TimerEnable) != 0;
        if (level != _sciLevel)
        {
            _sciLevel = level;
            _context.SetIrq(level);
        }

        if ((_enable & TimerEnable) != 0 && !level)
        {
            long nextCarryTicks = (_acknowledgedTimerEpoch + 1) << 31;
            long deadline = (long)((Int128)nextCarryTicks * 1_000_000_000 / TimerHertz) + 1;
            _context.SetTimer(deadline);
        }
        else
        {
            _context.CancelTimer();
        }
    }

    [MemoryPackable]
    internal sealed partial class State
    {
        public ushort Enable { get; set; }

        public ushort Control { get; set; }

        public long AcknowledgedTimerEpoch { get; set; }

        public bool PoweredOff { get; set; }
    }
}
