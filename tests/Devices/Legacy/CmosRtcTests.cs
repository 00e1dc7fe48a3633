using SplitEmu.DeviceHost.Devices.Rtc;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices.Legacy;

public sealed class CmosRtcTests
{
    private const ulong MiB = 1UL << 20;

    /// <summary>A Thursday in a leap year, half a second past 13:45:59 UTC.</summary>
    private static readonly DateTimeOffset s_thursday = new(2024, 2, 29, 13, 45, 59, 500, TimeSpan.Zero);

    private readonly SettableTimeProvider _wallClock = new(s_thursday);
    private readonly FakeDeviceContext _context = new();
    private readonly CmosRtc _rtc;

    public CmosRtcTests()
    {
        _rtc = new CmosRtc(new DeviceConfig { Type = CmosRtc.TypeName }, _context, _wallClock);
    }

    [Theory]
    [InlineData(16, 0x3C00, 0x0000)] // 15 MiB above 1 MiB; nothing above 16 MiB
    [InlineData(64, 0xFC00, 0x0300)] // 63 MiB above 1 MiB; 48 MiB above 16 MiB in 64 KiB units
    [InlineData(4000, 0xFFFF, 0xF900)] // extended memory saturates at 65535 KiB; 3984 MiB above 16 MiB
    public void MemoryBytes_DescribeTheMachinesRam(int ramMiB, int extendedKiB, int above16MiBUnits)
    {
        CmosRtc rtc = new(new DeviceConfig { Type = CmosRtc.TypeName }, new MachineFactsContext(new MachineFacts((ulong)ramMiB * MiB)), _wallClock);

        Assert.Equal(640, ReadWord(rtc, 0x15));
        Assert.Equal(extendedKiB, ReadWord(rtc, 0x17));
        Assert.Equal(extendedKiB, ReadWord(rtc, 0x30));
        Assert.Equal(above16MiBUnits, ReadWord(rtc, 0x34));
        Assert.Equal(0, ReadWord(rtc, 0x5B) | (ReadRegister(rtc, 0x5D) << 16)); // nothing above 4 GiB
    }

    [Fact]
    public void ChecksumCoversBytes10To2D()
    {
        int sum = 0;
        for (int i = 0x10; i <= 0x2D; i++)
        {
            sum += ReadRegister(_rtc, i);
        }

        Assert.NotEqual(0, sum); // the equipment and memory bytes are in the range
        Assert.Equal(sum, (ReadRegister(_rtc, 0x2E) << 8) | ReadRegister(_rtc, 0x2F));
    }

    [Fact]
    public void MachineBytes_CpuCountEquipmentAndBootOrder()
    {
        DeviceConfig config = new() { Type = CmosRtc.TypeName, Config = new Dictionary<string, string> { [CmosRtc.BootOrderKey] = "dc" } };
        CmosRtc rtc = new(config, new MachineFactsContext(new MachineFacts(64 * MiB, CpuCount: 4)), _wallClock);

        Assert.Equal(3, ReadRegister(rtc, 0x5F));
        Assert.Equal(0x06, ReadRegister(rtc, 0x14));
        Assert.Equal(0x00, ReadRegister(rtc, 0x10));
        Assert.Equal(0x23, ReadRegister(rtc, 0x3D)); // first CD-ROM (3), then disk (2)
    }

    [Fact]
    public void Clock_ReadsHostUtcInBcdByDefault()
    {
        byte[] clock = ReadClock(_rtc);

        // seconds, minutes, hours, day of week (Sunday = 1), day, month, year, century
        Assert.Equal(new byte[] { 0x59, 0x45, 0x13, 0x05, 0x29, 0x02, 0x24, 0x20 }, clock);
    }

    [Fact]
    public void Clock_ReadsBinaryWhenRegisterBSelectsIt()
    {
        WriteRegister(_rtc, 0x0B, 0x06); // binary, 24-hour

        Assert.Equal(new byte[] { 59, 45, 13, 5, 29, 2, 24, 20 }, ReadClock(_rtc));
    }

    [Fact]
    public void Clock_TwelveHourModeSetsThePmBit()
    {
        WriteRegister(_rtc, 0x0B, 0x00); // BCD, 12-hour

        Assert.Equal(0x81, ReadRegister(_rtc, 0x04)); // 1 PM
    }

    [Fact]
    public void Clock_FollowsTheHostClock()
    {
        _wallClock.Now = s_thursday.AddSeconds(1);

        Assert.Equal(0x46, ReadRegister(_rtc, 0x02)); // 13:46:00
        Assert.Equal(0x00, ReadRegister(_rtc, 0x00));
    }

    [Fact]
    public void Clock_GuestSetTimeKeepsRunningFromWhatWasSet()
    {
        WriteRegister(_rtc, 0x0B, 0x82); // SET: freeze
        WriteRegister(_rtc, 0x04, 0x08); // 08 h
        WriteRegister(_rtc, 0x0B, 0x02); // run again

        _wallClock.Now = s_thursday.AddMinutes(2);

        Assert.Equal(0x08, ReadRegister(_rtc, 0x04));
        Assert.Equal(0x47, ReadRegister(_rtc, 0x02));
    }

    [Fact]
    public void RegisterA_ReportsUpdateInProgressOnlyJustBeforeASecondBoundary()
    {
        byte midSecond = ReadRegister(_rtc, 0x0A);
        _wallClock.Now = s_thursday.AddMilliseconds(499.9); // 100 us before the boundary
        byte beforeBoundary = ReadRegister(_rtc, 0x0A);

        Assert.Equal(0x26, midSecond);
        Assert.Equal(0xA6, beforeBoundary);
    }

    [Fact]
    public void RegisterD_ReportsValidTime() => Assert.Equal(0x80, ReadRegister(_rtc, 0x0D));

    [Fact]
    public void PeriodicInterrupt_RaisesIrq8AtTheRate_AndRegisterCClearsIt()
    {
        WriteRegister(_rtc, 0x0B, 0x42); // PIE, 24-hour; register A's default rate 6 is 1024 Hz
        const long Period = 976_563; // 1/1024 s, rounded up to the nanosecond

        Assert.Equal(Period, _context.TimerDeadline);
        _context.AdvanceTo(Period, _rtc);
        bool raised = _context.IrqLevels[8];
        byte flags = ReadRegister(_rtc, 0x0C);
        byte again = ReadRegister(_rtc, 0x0C);

        Assert.True(raised);
        Assert.Equal(0xC0, flags); // IRQF | PF
        Assert.Equal(0x00, again);
        Assert.False(_context.IrqLevels[8]);
        Assert.Equal(2 * 976_562 + 1, _context.TimerDeadline); // the second period ends at 1953125 ns
    }

    [Fact]
    public void PeriodicFlag_IsSetWithoutItsEnable_ButRaisesNoInterrupt()
    {
        _context.NowNanoseconds = 2_000_000;

        Assert.Equal(0x40, ReadRegister(_rtc, 0x0C));
        Assert.DoesNotContain((8, true), _context.IrqChanges);
        Assert.Null(_context.TimerDeadline);
    }

    [Fact]
    public void UpdateEndedInterrupt_FiresAtTheNextSecond()
    {
        WriteRegister(_rtc, 0x0A, 0x20); // periodic rate 0: only the update interrupt
        WriteRegister(_rtc, 0x0B, 0x12); // UIE
        long deadline = _context.TimerDeadline ?? -1;

        _wallClock.Now = s_thursday.AddMilliseconds(500);
        _context.AdvanceTo(500_000_000, _rtc);

        Assert.Equal(500_000_000, deadline);
        Assert.True(_context.IrqLevels[8]);
        Assert.Equal(0x90, ReadRegister(_rtc, 0x0C)); // IRQF | UF
    }

    [Fact]
    public void SnapshotRestore_KeepsTheGuestsTimeAndBytes()
    {
        WriteRegister(_rtc, 0x0B, 0x82);
        WriteRegister(_rtc, 0x04, 0x08);
        WriteRegister(_rtc, 0x0B, 0x02);
        WriteRegister(_rtc, 0x40, 0x5A); // a byte of general-purpose CMOS
        CmosRtc restarted = new(new DeviceConfig { Type = CmosRtc.TypeName }, new FakeDeviceContext(), _wallClock);

        restarted.RestoreState(_rtc.SaveState());

        Assert.Equal(0x08, ReadRegister(restarted, 0x04));
        Assert.Equal(0x5A, ReadRegister(restarted, 0x40));
    }

    [Fact]
    public void IndexPortBit7_IsTheNmiMask_NotPartOfTheIndex()
    {
        _rtc.Write(0, 0, 1, 0x80 | 0x15);

        Assert.Equal(0x80, (byte)_rtc.Read(0, 1, 1)); // base memory low byte (640 = 0x0280)
    }

    private static byte[] ReadClock(CmosRtc rtc) =>
        [ReadRegister(rtc, 0x00), ReadRegister(rtc, 0x02), ReadRegister(rtc, 0x04), ReadRegister(rtc, 0x06),
         ReadRegister(rtc, 0x07), ReadRegister(rtc, 0x08), ReadRegister(rtc, 0x09), ReadRegister(rtc, 0x32)];

    private static int ReadWord(CmosRtc rtc, int index) => ReadRegister(rtc, index) | (ReadRegister(rtc, index + 1) << 8);

    private static byte ReadRegister(CmosRtc rtc, int index)
    {
        rtc.Write(0, 0, 1, (ulong)index);
        return (byte)rtc.Read(0, 1, 1);
    }

    private static void WriteRegister(CmosRtc rtc, int index, byte value)
    {
        rtc.Write(0, 0, 1, (ulong)index);
        rtc.Write(0, 1, 1, value);
    }
}
