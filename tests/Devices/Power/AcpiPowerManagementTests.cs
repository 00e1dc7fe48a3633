using SplitEmu.DeviceHost.Devices.Power;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices.Power;

/// <summary>
/// The ACPI fixed hardware as a kernel uses it: the PM timer counts 3.579545 MHz on the machine clock, SCI_EN
/// reads set, sleep type 5 with SLP_EN powers off (exit code 0) and nothing else does, TMR_STS follows bit 31
/// and clears by writing 1, and with TMR_EN the SCI is raised at the carry.
/// </summary>
public sealed class AcpiPowerManagementTests
{
    private const int Sci = 9;
    private readonly FakeDeviceContext _context = new("pm", irq: Sci);
    private readonly AcpiPowerManagement _pm;

    public AcpiPowerManagementTests() =>
        _pm = new AcpiPowerManagement(new DeviceConfig { Id = "pm", Type = AcpiPowerManagement.TypeName, Irq = Sci }, _context);

    private uint Timer => (uint)_pm.Read(0, AcpiPowerManagement.TimerOffset, 4);

    [Fact]
    public void PmTimer_Counts3579545HzOfTheMachineClock_In32Bits()
    {
        _context.NowNanoseconds = 1_000_000_000;
        Assert.Equal(3_579_545u, Timer);

        _context.NowNanoseconds = 1_500_000_000;
        Assert.Equal(5_369_317u, Timer); // floor(1.5 * 3579545)

        _context.NowNanoseconds = 1_300_000_000_000; // 21 minutes: past 2^32 ticks, the register wraps
        Assert.Equal(unchecked((uint)(1_300L * 3_579_545)), Timer);
        Assert.Equal((byte)(Timer >> 8), (byte)_pm.Read(0, AcpiPowerManagement.TimerOffset + 1, 1));
    }

    [Fact]
    public void PmTimer_ReadIn32Bits_IsOneInstant_EvenWhenTheClockRunsOnBetweenItsBytes()
    {
        // 0x73B0F0 ticks, with the clock running 100 us (358 ticks) on between readings: a timer assembled from
        // bytes of different instants would read 0x73B?F0 above the truth, and the next read below it.
        long start = (0x73B0F0L * 1_000_000_000 / AcpiPowerManagement.TimerHertz) + 1;
        _context.NowNanoseconds = start;
        _context.NanosecondsPerReading = 100_000;

        uint first = Timer, second = Timer, third = Timer;

        Assert.Equal(0x73B0F0u, first);
        Assert.True(first < second && second < third, $"the timer went {first:X} {second:X} {third:X}");
    }

    [Fact]
    public void ControlBlock_ReadsSciEnabled_AndKeepsTheSleepType()
    {
        Assert.Equal(1UL, _pm.Read(0, AcpiPowerManagement.ControlOffset, 2));

        _pm.Write(0, AcpiPowerManagement.ControlOffset, 2, 3 << 10);

        Assert.Equal((3UL << 10) | 1, _pm.Read(0, AcpiPowerManagement.ControlOffset, 2));
        Assert.Empty(_context.Exits);
    }

    [Fact]
    public void SleepType5WithSleepEnable_PowersOff_WithExitCode0_Once()
    {
        ulong softOff = (AcpiPowerManagement.SoftOffSleepType << 10) | (1 << 13);

        _pm.Write(0, AcpiPowerManagement.ControlOffset, 2, softOff);
        _pm.Write(0, AcpiPowerManagement.ControlOffset, 2, softOff);

        Assert.Equal([(0, 5UL)], _context.Exits);
        Assert.Equal(0UL, _pm.Read(0, AcpiPowerManagement.ControlOffset, 2) & (1 << 13)); // SLP_EN reads 0
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void OtherSleepTypes_DoNothing(int sleepType)
    {
        _pm.Write(0, AcpiPowerManagement.ControlOffset, 2, ((ulong)sleepType << 10) | (1 << 13));

        Assert.Empty(_context.Exits);
    }

    [Fact]
    public void TimerStatus_SetsWhenBit31Carries_ClearsOnWriteOfOne_AndRaisesTheSciWhenEnabled()
    {
        long carryNs = (long)((1L << 31) * 1_000_000_000 / AcpiPowerManagement.TimerHertz) + 1;
        _context.NowNanoseconds = carryNs - 1_000_000;
        _pm.Write(0, AcpiPowerManagement.StatusOffset, 2, 1); // acknowledge anything from power-on
        _pm.Write(0, AcpiPowerManagement.EnableOffset, 2, 1); // TMR_EN
        Assert.Equal(0UL, _pm.Read(0, AcpiPowerManagement.StatusOffset, 2) & 1);
        Assert.False(_context.IrqLevels[Sci]);
        Assert.NotNull(_context.TimerDeadline);

        _context.AdvanceTo(_context.TimerDeadline!.Value, _pm);

        Assert.Equal(1UL, _pm.Read(0, AcpiPowerManagement.StatusOffset, 2) & 1);
        Assert.True(_context.IrqLevels[Sci]);

        _pm.Write(0, AcpiPowerManagement.StatusOffset, 2, 1);
        Assert.Equal(0UL, _pm.Read(0, AcpiPowerManagement.StatusOffset, 2) & 1);
        Assert.False(_context.IrqLevels[Sci]);
    }

    [Fact]
    public void Snapshot_KeepsEnablesAndAcknowledgement()
    {
        _pm.Write(0, AcpiPowerManagement.EnableOffset, 2, 1);
        _pm.Write(0, AcpiPowerManagement.ControlOffset, 2, 2 << 10);
        byte[] state = _pm.SaveState();
        FakeDeviceContext other = new("pm", irq: Sci);
        AcpiPowerManagement restarted = new(new DeviceConfig { Id = "pm", Type = AcpiPowerManagement.TypeName, Irq = Sci }, other);

        restarted.RestoreState(state);

        Assert.Equal(1UL, restarted.Read(0, AcpiPowerManagement.EnableOffset, 2));
        Assert.Equal((2UL << 10) | 1, restarted.Read(0, AcpiPowerManagement.ControlOffset, 2));
        Assert.Throws<InvalidDataException>(() => restarted.RestoreState([]));
    }
}
