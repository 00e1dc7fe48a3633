using SplitEmu.DeviceHost.Devices.Timer;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices.Legacy;

public sealed class Pit8254Tests
{
    // Port offsets inside the "pit" region.
    private const ulong Counter0 = 0;
    private const ulong Counter2 = 2;
    private const ulong ModeRegister = 3;

    // Control words: channel (bits 7-6), low-then-high access (bits 5-4 = 11), mode (bits 3-1), binary.
    private const byte Channel0Mode0 = 0x30;
    private const byte Channel0Mode2 = 0x34;
    private const byte Channel0Mode3 = 0x36;
    private const byte Channel0Mode4 = 0x38;
    private const byte Channel2Mode0 = 0xB0;

    /// <summary>One millisecond of machine time is 1193 whole ticks of the 1.193182 MHz clock.</summary>
    private const long OneMillisecond = 1_000_000;

    private readonly FakeDeviceContext _context = new();
    private readonly Pit8254 _pit;

    public Pit8254Tests()
    {
        _pit = new Pit8254(new DeviceConfig { Type = Pit8254.TypeName }, _context);
    }

    [Fact]
    public void Counter_CountsDownAtTheInputClockRate()
    {
        Program(Channel0Mode2, Counter0, 10000); // written at tick 0, loaded at tick 1

        _context.NowNanoseconds = OneMillisecond; // tick 1193: 1192 ticks counted

        Assert.Equal(10000 - 1192, LatchAndRead(Counter0, 0x00));
    }

    [Fact]
    public void AnAccessHandledLate_CountsAtTheMachineTimeTheGuestMadeIt()
    {
        // A replayed journal reaches a successor long after the guest made its accesses: each carries its time.
        Program(Channel0Mode2, Counter0, 10000);
        _context.NowNanoseconds = 50 * OneMillisecond;
        _context.AccessAt = OneMillisecond;

        int count = LatchAndRead(Counter0, 0x00);
        _context.AccessAt = null;

        Assert.Equal(10000 - 1192, count);
    }

    [Fact]
    public void TicksAt_AndTimeOfTick_AreInverse()
    {
        long tick = 123_456_789_012;

        long time = Pit8254.TimeOfTick(tick);

        Assert.Equal(tick, Pit8254.TicksAt(time));
        Assert.Equal(tick - 1, Pit8254.TicksAt(time - 1));
    }

    [Fact]
    public void Mode2_HandsTheMachineATrainOfOnePulsePerPeriod_FromTheFirstRisingEdge()
    {
        const int Count = 1193; // about 1 kHz
        Program(Channel0Mode2, Counter0, Count); // loaded at tick 1: OUT rises at 1 + Count, 1 + 2 Count, ...

        Assert.Equal(new PulseTrain(1 + Count, Count, Pit8254.InputHz), _context.PulseTrains[0]);
        Assert.Empty(_context.IrqChanges); // the line rests low; the machine pulses it
        Assert.Null(_context.TimerDeadline); // and the PIT's process need not wake for it
    }

    [Theory]
    [InlineData(Channel0Mode2)]
    [InlineData(Channel0Mode3)]
    public void ACountOfOne_InAPeriodicMode_NeverLetsOutFall_SoThereIsNoTrain(byte control)
    {
        Program(control, Counter0, 1);

        Assert.Empty(_context.PulseTrains); // not a 1.19 MHz interrupt storm
    }

    [Fact]
    public void Mode3_PeriodIsTheCount()
    {
        const int Count = 11932; // 100 Hz
        Program(Channel0Mode3, Counter0, Count);

        Assert.Equal(new PulseTrain(1 + Count, Count, Pit8254.InputHz), _context.PulseTrains[0]);
    }

    [Fact]
    public void Mode4_IsATrainOfOnePulse_WhereTheTerminalCountStrobeEnds()
    {
        const int Count = 4773; // Linux's one-shot clock event programs mode 4 for each tick
        Program(Channel0Mode4, Counter0, Count);

        Assert.Equal(new PulseTrain(1 + Count + 1, 0, Pit8254.InputHz), _context.PulseTrains[0]);
        Assert.False(_context.IrqLevels[0]);
    }

    [Fact]
    public void ANewCountInMode2_TakesEffectAtTheEndOfThePeriodInHand()
    {
        const int Count = 1193;
        Program(Channel0Mode2, Counter0, Count);
        _context.NowNanoseconds = Pit8254.TimeOfTick(1 + (10 * Count) + (Count / 2));

        const int NewCount = 4 * Count;
        WritePit(Counter0, NewCount & 0xFF); // the same mode, a new count: no control word
        WritePit(Counter0, NewCount >> 8);

        Assert.Equal(new PulseTrain(1 + (11 * Count), 4 * Count, Pit8254.InputHz), _context.PulseTrains[0]);
    }

    [Fact]
    public void TheSameProgram_IsHandedOverOnce()
    {
        Program(Channel0Mode2, Counter0, 1193);
        int changes = _context.PulseTrainChanges.Count;

        WritePort61(0x01); // channel 2's gate, the speaker: nothing about IRQ 0
        Program(Channel2Mode0, Counter2, 100);
        LatchAndRead(Counter0, 0x00);

        Assert.Equal(changes, _context.PulseTrainChanges.Count);
    }

    [Fact]
    public void Mode0AfterAPeriodicProgram_StopsTheTrain_AndTheLineFollowsOut()
    {
        Program(Channel0Mode2, Counter0, 1193);

        Program(Channel0Mode0, Counter0, 500);

        Assert.Equal((0, (PulseTrain?)null), _context.PulseTrainChanges[^1]);
        Assert.Empty(_context.PulseTrains);
        Assert.Equal(Pit8254.TimeOfTick(1 + 500), _context.TimerDeadline); // OUT rises at terminal count, by the timer
    }

    [Fact]
    public void ARestoredPit_LeavesTheMachinesTrainAlone_UntilTheGuestReprogramsIt()
    {
        const int Count = 1193;
        byte[] saved = _pit.SaveState(); // the snapshot: power-on, mode 3, count 65536
        Program(Channel0Mode2, Counter0, Count); // journaled after it: the machine runs this train now

        FakeDeviceContext successorContext = new() { NowNanoseconds = Pit8254.TimeOfTick(30 * Count) };
        Pit8254 successor = new(new DeviceConfig { Type = Pit8254.TypeName }, successorContext);
        successorContext.PulseTrainChanges.Clear(); // a device process takes no events before it is registered
        successor.RestoreState(saved);
        successor.Read(Pit8254.Port61Region, 0, 1);
        int changesBeforeReprogramming = successorContext.PulseTrainChanges.Count;
        successor.Write(Pit8254.PitRegion, ModeRegister, 1, Channel0Mode2);
        successor.Write(Pit8254.PitRegion, Counter0, 1, Count & 0xFF);
        successor.Write(Pit8254.PitRegion, Counter0, 1, Count >> 8);

        Assert.Equal(0, changesBeforeReprogramming); // the snapshot's older train would replace the machine's newer one
        Assert.NotEmpty(successorContext.PulseTrainChanges);
    }

    [Fact]
    public void Mode0OnChannel0_RaisesIrq0AtTerminalCount()
    {
        const int Count = 500;
        Program(Channel0Mode0, Counter0, Count);
        long terminal = Pit8254.TimeOfTick(1 + Count);

        _context.AdvanceTo(terminal - 1, _pit);
        bool before = _context.IrqLevels[0];
        _context.AdvanceTo(terminal, _pit);

        Assert.False(before);
        Assert.True(_context.IrqLevels[0]);
        Assert.Null(_context.TimerDeadline); // one shot
    }

    [Fact]
    public void CounterLatch_HoldsTheCountUntilRead()
    {
        Program(Channel0Mode2, Counter0, 0x1000);
        _context.NowNanoseconds = OneMillisecond;
        WritePit(ModeRegister, 0x00); // latch channel 0

        _context.NowNanoseconds = 2 * OneMillisecond; // the counter moves on; the latch does not
        int latched = ReadPit(Counter0) | (ReadPit(Counter0) << 8);

        Assert.Equal(0x1000 - 1192, latched);
    }

    [Fact]
    public void ReadBack_LatchesStatusThenCount()
    {
        Program(Channel2Mode0, Counter2, 2048); // gate 2 is low: loaded but not counting
        _context.NowNanoseconds = OneMillisecond;

        WritePit(ModeRegister, 0xC8); // read-back: count and status of channel 2
        byte status = ReadPit(Counter2);
        int count = ReadPit(Counter2) | (ReadPit(Counter2) << 8);

        // OUT low, count loaded (null count clear), low-then-high access, mode 0, binary.
        Assert.Equal(0x30, status);
        Assert.Equal(2048, count);
    }

    [Fact]
    public void ReadBack_StatusShowsNullCountBeforeTheCountIsWritten()
    {
        WritePit(ModeRegister, Channel0Mode2);

        WritePit(ModeRegister, 0xE2); // read-back: status only, channel 0

        Assert.Equal(0x80 | 0x40 | 0x34, ReadPit(Counter0)); // OUT high in mode 2, null count
    }

    [Fact]
    public void SeaBiosCalibration_Out2RisesAfterCountPlusOneTicks()
    {
        _context.NowNanoseconds = 5 * OneMillisecond; // tick 5965
        long written = Pit8254.TicksAt(_context.NowNanoseconds);
        WritePort61(0x01); // gate channel 2 on, speaker off
        Program(Channel2Mode0, Counter2, 2048);
        long terminal = Pit8254.TimeOfTick(written + 1 + 2048);

        _context.NowNanoseconds = terminal - 1;
        byte before = ReadPort61();
        _context.NowNanoseconds = terminal;
        byte after = ReadPort61();

        Assert.Equal(0, before & 0x20);
        Assert.Equal(0x20, after & 0x20);
        Assert.Equal(0x01, after & 0x03); // gate reads back, speaker data off
    }

    [Fact]
    public void Channel2_WithGateLow_DoesNotCount()
    {
        WritePort61(0x00);
        Program(Channel2Mode0, Counter2, 2048);

        _context.NowNanoseconds = 10 * OneMillisecond; // far past 2049 ticks

        Assert.Equal(0, ReadPort61() & 0x20);
        Assert.Equal(2048, LatchAndRead(Counter2, 0x80));
    }

    [Fact]
    public void Channel2_GateHigh_ResumesAMode0Count()
    {
        WritePort61(0x00);
        Program(Channel2Mode0, Counter2, 2048);
        _context.NowNanoseconds = OneMillisecond;
        long gatedOn = Pit8254.TicksAt(_context.NowNanoseconds);
        WritePort61(0x01);

        _context.NowNanoseconds = Pit8254.TimeOfTick(gatedOn + 2048);

        Assert.Equal(0x20, ReadPort61() & 0x20);
    }

    [Fact]
    public void Port61_RefreshBitTogglesEvery15085Nanoseconds()
    {
        _context.NowNanoseconds = 0;
        byte first = ReadPort61();
        _context.NowNanoseconds = Pit8254.RefreshToggleNanoseconds;
        byte second = ReadPort61();
        _context.NowNanoseconds = 2 * Pit8254.RefreshToggleNanoseconds;
        byte third = ReadPort61();

        Assert.Equal(0, first & 0x10);
        Assert.Equal(0x10, second & 0x10);
        Assert.Equal(0, third & 0x10);
    }

    [Fact]
    public void Bcd_CountsAreReadAndWrittenInBcd()
    {
        WritePit(ModeRegister, 0x35); // channel 0, low-then-high, mode 2, BCD
        WritePit(Counter0, 0x00);
        WritePit(Counter0, 0x50); // 5000 decimal

        _context.NowNanoseconds = OneMillisecond; // 1192 counted

        Assert.Equal(0x3808, LatchAndRead(Counter0, 0x00));
    }

    [Fact]
    public void SnapshotRestore_ContinuesTheCountAndTheTimer()
    {
        Program(Channel0Mode0, Counter0, 5000);
        _context.NowNanoseconds = 2 * OneMillisecond;
        byte[] state = _pit.SaveState();
        FakeDeviceContext restartedContext = new() { NowNanoseconds = 3 * OneMillisecond };
        Pit8254 restarted = new(new DeviceConfig { Type = Pit8254.TypeName }, restartedContext);

        restarted.RestoreState(state);
        _context.NowNanoseconds = 3 * OneMillisecond;

        Assert.Equal(_context.TimerDeadline, restartedContext.TimerDeadline);
        Assert.Equal(LatchAndRead(Counter0, 0x00), LatchAndRead(restarted, Counter0, 0x00));
        Assert.Equal(5000 - (Pit8254.TicksAt(3 * OneMillisecond) - 1), LatchAndRead(restarted, Counter0, 0x00));
    }

    [Fact]
    public void FirstAccess_StatesTheTrainAHostDroppedDuringConstruction()
    {
        _context.PulseTrains.Clear(); // as a host that takes no events before the device is registered

        ReadPort61();

        Assert.Equal(new PulseTrain(1 + 65536, 65536, Pit8254.InputHz), _context.PulseTrains[0]); // power-on: mode 3, count 65536
    }

    [Fact]
    public void RestoreState_RejectsForeignBytes() =>
        Assert.Throws<InvalidDataException>(() => _pit.RestoreState([1, 2, 3]));

    private void Program(byte control, ulong counter, int count)
    {
        WritePit(ModeRegister, control);
        WritePit(counter, (byte)count);
        WritePit(counter, (byte)(count >> 8));
    }

    private int LatchAndRead(ulong counter, byte latchCommand) => LatchAndRead(_pit, counter, latchCommand);

    private static int LatchAndRead(Pit8254 pit, ulong counter, byte latchCommand)
    {
        pit.Write(Pit8254.PitRegion, ModeRegister, 1, latchCommand);
        int low = (int)pit.Read(Pit8254.PitRegion, counter, 1);
        return low | ((int)pit.Read(Pit8254.PitRegion, counter, 1) << 8);
    }

    private void WritePit(ulong port, byte value) => _pit.Write(Pit8254.PitRegion, port, 1, value);

    private byte ReadPit(ulong port) => (byte)_pit.Read(Pit8254.PitRegion, port, 1);

    private void WritePort61(byte value) => _pit.Write(Pit8254.Port61Region, 0, 1, value);

    private byte ReadPort61() => (byte)_pit.Read(Pit8254.Port61Region, 0, 1);
}
