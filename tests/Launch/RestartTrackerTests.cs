using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.Tests.Launch;

/// <summary>
/// The restart policy: a failing device's back-off doubles with each crash in the window (capped), a crash
/// someone asked for restarts after the plain back-off, both count towards maxRestarts, old crashes leave the window.
/// </summary>
public sealed class RestartTrackerTests
{
    private static readonly RestartConfig s_policy = new() { Policy = RestartPolicy.OnCrash, MaxRestarts = 4, WindowMs = 10_000, BackoffMs = 100 };

    [Fact]
    public void FailingDevice_BacksOffDoubling_ThenGivesUpAtTheLimit()
    {
        RestartTracker tracker = new(s_policy);

        double[] delays = [.. Enumerable.Range(0, 4).Select(i => tracker.OnCrash(TimeSpan.FromSeconds(i), requested: false, out _)!.Value.TotalMilliseconds)];

        Assert.Equal([100, 200, 400, 800], delays);
        Assert.Null(tracker.OnCrash(TimeSpan.FromSeconds(5), requested: false, out string why));
        Assert.Contains("maxRestarts 4", why, StringComparison.Ordinal);
    }

    [Fact]
    public void RequestedCrashes_RestartAfterThePlainBackOff_ButCountTowardsTheLimit()
    {
        RestartTracker tracker = new(s_policy);

        double[] delays = [.. Enumerable.Range(0, 4).Select(i => tracker.OnCrash(TimeSpan.FromSeconds(i), requested: true, out _)!.Value.TotalMilliseconds)];

        Assert.Equal([100, 100, 100, 100], delays);
        Assert.Null(tracker.OnCrash(TimeSpan.FromSeconds(5), requested: true, out _));
    }

    [Fact]
    public void CrashesOutsideTheWindow_AreForgotten()
    {
        RestartTracker tracker = new(s_policy);
        for (int i = 0; i < 4; i++)
        {
            tracker.OnCrash(TimeSpan.FromSeconds(i), requested: false, out _);
        }

        TimeSpan? later = tracker.OnCrash(TimeSpan.FromSeconds(30), requested: false, out _);

        Assert.Equal(TimeSpan.FromMilliseconds(100), later);
        Assert.Equal(5, tracker.Restarts);
    }
}
