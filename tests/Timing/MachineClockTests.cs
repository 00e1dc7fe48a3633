using SplitEmu.Shared.Timing;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Timing;

/// <summary>
/// The machine clock: stops and starts without a jump, stops nest, every segment reads what the CPU process
/// reads, and a reader never sees time go backwards while the writer stops and starts it.
/// </summary>
public sealed class MachineClockTests
{
    [Fact]
    public void StoppedClock_StandsStill_AndGoesOnFromThereWhenStarted()
    {
        MachineClockSource source = new();
        long stoppedAt;
        using (source.Stop())
        {
            stoppedAt = source.Clock.NowNanoseconds;
            Thread.Sleep(30);
            Assert.Equal(stoppedAt, source.Clock.NowNanoseconds);
        }

        long after = source.Clock.NowNanoseconds;
        Assert.InRange(after - stoppedAt, 0, 25_000_000); // went on from where it stood, not 30 ms later
        Assert.True(source.StoppedNanoseconds >= 30_000_000, $"stood still {source.StoppedNanoseconds} ns");
    }

    [Fact]
    public void Stops_Nest_TheClockRunsWhenTheLastEnds()
    {
        MachineClockSource source = new();
        MachineClockSource.StopScope outer = source.Stop();
        MachineClockSource.StopScope inner = source.Stop();
        long stopped = source.Clock.NowNanoseconds;
        inner.Dispose();
        inner.Dispose(); // a scope starts the clock once
        Thread.Sleep(5);
        Assert.Equal(stopped, source.Clock.NowNanoseconds);

        outer.Dispose();
        Thread.Sleep(5);
        Assert.True(source.Clock.NowNanoseconds > stopped);
    }

    [Fact]
    public void SegmentMirror_ReadsWhatTheCpuProcessReads_AlsoWhenMirroredWhileStopped()
    {
        MachineClockSource source = new();
        using (source.Stop())
        {
            Thread.Sleep(10);
        }

        using RingSegment segment = RingSegment.Create($"splitemu-test-{Environment.ProcessId}-clock", new RingGeometry(2, 2, 2), epoch: 0);
        using (source.Stop())
        {
            source.Mirror(segment);
            Assert.Equal(source.Clock.NowNanoseconds, MachineClock.Of(segment).NowNanoseconds);
        }

        Assert.Equal(source.Clock.NowNanoseconds, MachineClock.Of(segment).NowNanoseconds, tolerance: 5_000_000);
        source.Forget(segment);
        using (source.Stop())
        {
            Thread.Sleep(10);
            Assert.NotEqual(source.Clock.NowNanoseconds, MachineClock.Of(segment).NowNanoseconds); // no longer published there
        }
    }

    [Fact]
    public void Reader_NeverSeesTimeGoBack_WhileTheWriterStopsAndStarts()
    {
        MachineClockSource source = new();
        using CancellationTokenSource done = new();
        Thread writer = new(() =>
        {
            for (int i = 0; i < 20_000 && !done.IsCancellationRequested; i++)
            {
                using (source.Stop())
                {
                    Thread.SpinWait(20);
                }
            }
        });
        writer.Start();
        long previous = source.Clock.NowNanoseconds;
        long backwards = 0;
        while (writer.IsAlive)
        {
            long now = source.Clock.NowNanoseconds;
            if (now < previous)
            {
                backwards++;
            }

            previous = now;
        }

        done.Cancel();
        writer.Join();
        Assert.Equal(0, backwards);
    }
}
