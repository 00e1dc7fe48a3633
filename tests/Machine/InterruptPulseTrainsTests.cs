using SplitEmu.CpuHost.Machine;
using SplitEmu.DeviceHost.Sdk;

namespace SplitEmu.Tests.Machine;

public sealed class InterruptPulseTrainsTests
{
    private const long Hz = 1_193_182; // an 8254's input clock
    private const long Period = 4773;  // Linux's 250 Hz tick

    private readonly List<(int Line, bool Level)> _changes = [];
    private readonly InterruptPulseTrains _trains;
    private long _now;

    public InterruptPulseTrainsTests()
    {
        _trains = new InterruptPulseTrains((line, level) => _changes.Add((line, level)), () => _now);
    }

    [Fact]
    public void EachPulse_ComesAtItsTickOfTheDevicesClock_AsARiseThenAFall()
    {
        PulseTrain train = new(1 + Period, Period, Hz);
        _trains.Set("pit", 0, train);

        _now = train.TimeOfPulse(0) - 1;
        int early = _trains.RunDue();
        _now = train.TimeOfPulse(0);
        int first = _trains.RunDue();

        Assert.Equal(0, early);
        Assert.Equal(1, first);
        Assert.Equal([(0, true), (0, false)], _changes);
        Assert.Equal(train.TimeOfPulse(1), _trains.NextDeadline);
    }

    [Fact]
    public void PulsesStayOnTheTickGrid_WhereWholeNanosecondPeriodsWouldDrift()
    {
        PulseTrain train = new(0, Period, Hz);

        long afterAnHour = train.TimeOfPulse(250 * 3600); // 250 Hz for an hour
        long wholeNanosecondPeriods = 250 * 3600 * (Period * 1_000_000_000 / Hz); // 4,000,227 ns each, not 4,000,227.96

        Assert.Equal(3_600_205_165_684, afterAnHour); // tick 4,295,700,000 of 1,193,182 Hz, rounded up to its nanosecond
        Assert.True(afterAnHour - wholeNanosecondPeriods > 800_000, "whole-nanosecond periods would fall 0.87 ms behind the counter in an hour");
    }

    [Fact]
    public void ALateRun_DeliversEveryPulseItMissed_ThenStaysOnTheGrid()
    {
        PulseTrain train = new(1 + Period, Period, Hz);
        _trains.Set("pit", 0, train);

        _now = train.TimeOfPulse(9) + (Period / 2 * 838); // ten and a half periods: ten pulses due
        int delivered = _trains.RunDue();

        Assert.Equal(10, delivered);
        Assert.Equal(10, _changes.Count(c => c.Level));
        Assert.Equal(train.TimeOfPulse(10), _trains.NextDeadline);
    }

    [Fact]
    public void ABacklogBeyondTheCap_IsDropped_AndTheTrainSkipsAheadToNow()
    {
        PulseTrain train = new(0, Period, Hz);
        _trains.Set("pit", 0, train);

        _now = train.TimeOfPulse(199) + 1000; // 200 pulses due
        int delivered = _trains.RunDue();

        Assert.Equal(InterruptPulseTrains.MaxPulsesPerRun, delivered);
        Assert.Equal(train.TimeOfPulse(200), _trains.NextDeadline);
    }

    [Fact]
    public void StatingTheSameTrainAgain_NeitherRepeatsNorSkipsAPulse()
    {
        PulseTrain train = new(1 + Period, Period, Hz);
        _trains.Set("pit", 0, train);
        _now = train.TimeOfPulse(3);
        _trains.RunDue();

        _trains.Set("pit", 0, train); // a restored PIT states its train again
        int again = _trains.RunDue();
        _now = train.TimeOfPulse(4);
        int next = _trains.RunDue();

        Assert.Equal(0, again);
        Assert.Equal(1, next);
        Assert.Equal(5, _changes.Count(c => c.Level));
    }

    [Fact]
    public void AOnePulseTrain_FiresOnce_EvenWhenStatedAgain()
    {
        PulseTrain oneShot = new(1 + Period + 1, 0, Hz);
        _trains.Set("pit", 0, oneShot);
        _now = oneShot.TimeOfPulse(0) + 10_000_000;

        int first = _trains.RunDue();
        _trains.Set("pit", 0, oneShot);
        int again = _trains.RunDue();

        Assert.Equal(1, first);
        Assert.Equal(0, again);
        Assert.Equal(long.MaxValue, _trains.NextDeadline);
    }

    [Fact]
    public void ATrainReplacedMidPeriod_StartsAtItsOwnFirstPulse_WithoutRepeatingTheOldOnes()
    {
        PulseTrain old = new(1 + Period, Period, Hz);
        _trains.Set("pit", 0, old);
        _now = old.TimeOfPulse(2);
        _trains.RunDue(); // pulses 0, 1 and 2

        PulseTrain fromNextEdge = new(1 + (4 * Period), 4 * Period, Hz); // a new count, from the end of the period in hand
        PulseTrain fromDeliveredEdge = new(1 + (3 * Period), 4 * Period, Hz); // its first pulse is old pulse 2

        _trains.Set("pit", 0, fromNextEdge);
        long firstOfNext = _trains.NextDeadline;
        _trains.Set("pit", 0, fromDeliveredEdge);
        long firstOfDelivered = _trains.NextDeadline;

        Assert.Equal(fromNextEdge.TimeOfPulse(0), firstOfNext);
        Assert.Equal(fromDeliveredEdge.TimeOfPulse(1), firstOfDelivered); // pulse 0 came already
        _now = fromDeliveredEdge.TimeOfPulse(1);
        Assert.Equal(1, _trains.RunDue());
        Assert.Equal(4, _changes.Count(c => c.Level));
    }

    [Fact]
    public void APulseDueButNotYetDelivered_WhenTheTrainIsReplaced_IsStillDelivered()
    {
        PulseTrain old = new(1 + Period, Period, Hz);
        _trains.Set("pit", 0, old);
        _now = old.TimeOfPulse(0) + 1000; // due, but the vCPU has not looked yet

        _trains.Set("pit", 0, new PulseTrain(1 + (2 * Period), 4 * Period, Hz)); // the guest rewrote the count
        int delivered = _trains.RunDue();

        Assert.Equal(1, delivered);
    }

    [Fact]
    public void APulseDueButNotYetDelivered_WhenTheTrainIsCancelled_IsStillDelivered()
    {
        PulseTrain old = new(1 + Period, Period, Hz);
        _trains.Set("pit", 0, old);
        _now = old.TimeOfPulse(0) + 1000;

        _trains.Cancel("pit", 0);

        Assert.Equal(1, _trains.RunDue());
        Assert.Equal(0, _trains.RunDue());
    }

    [Fact]
    public void CancelEverything_StopsEveryTrain_AndDropsWhatTheyOwed()
    {
        PulseTrain train = new(1 + Period, Period, Hz);
        _trains.Set("pit", 0, train);
        _now = train.TimeOfPulse(0) + 1000;
        _trains.Set("pit", 0, new PulseTrain(1 + (2 * Period), Period, Hz)); // owes pulse 0

        _trains.CancelEverything();

        Assert.Equal(0, _trains.RunDue());
        Assert.Equal(long.MaxValue, _trains.NextDeadline);
    }

    [Fact]
    public void OnlyTheDeviceThatSetATrain_CancelsIt()
    {
        _trains.Set("pit", 0, new PulseTrain(Period, Period, Hz));

        _trains.Cancel("uart", 0);
        long stillRunning = _trains.NextDeadline;
        _trains.Cancel("pit", 0);

        Assert.NotEqual(long.MaxValue, stillRunning);
        Assert.Equal(long.MaxValue, _trains.NextDeadline);
        Assert.Null(_trains.TrainOf(0));
    }

    [Fact]
    public void CancelAll_StopsEveryTrainOfAGivenUpDevice()
    {
        _trains.Set("pit", 0, new PulseTrain(Period, Period, Hz));
        _trains.Set("rtc", 8, new PulseTrain(32, 32, 32768));

        _trains.CancelAll("pit");

        Assert.Null(_trains.TrainOf(0));
        Assert.NotNull(_trains.TrainOf(8));
    }

    [Theory]
    [InlineData(16, 0, Period, Hz)]    // not an ISA line
    [InlineData(-1, 0, Period, Hz)]
    [InlineData(0, -1, Period, Hz)]    // before machine time 0
    [InlineData(0, 0, -5, Hz)]         // a negative period
    [InlineData(0, 0, 1, 0L)]          // a clock that does not tick
    [InlineData(0, 0, 1, 2_000_000_000L)] // faster than the machine clock's nanoseconds
    [InlineData(0, 0, 1L << 55, 1L)]     // a period whose nanoseconds overflow: every pulse would be at time 0
    [InlineData(0, long.MaxValue / 2, 1, 1L)] // a first pulse past the end of time
    [InlineData(0, 0, 1, Hz)]          // 838 ns: faster than the machine delivers (1 us)
    public void ATrainTheMachineCannotRun_IsRefused(int line, long first, long period, long hz)
    {
        bool accepted = _trains.Set("dev", line, new PulseTrain(first, period, hz));

        Assert.False(accepted);
        Assert.Equal(long.MaxValue, _trains.NextDeadline);
    }
}
