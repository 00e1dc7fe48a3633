namespace SplitEmu.Tests.Infrastructure;

/// <summary>Test folders of a killed test run do not pile up in /tmp.</summary>
public sealed class TempFolderTests
{
    [Fact]
    public void SweepRemovesTheFoldersOfRunsThatNoLongerExist_AndKeepsThoseOfLiveOnes()
    {
        // A pid above the kernel's largest pid_max (2^22) never belongs to a live process.
        string stale = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "splitemu-test-4194400-stale")).FullName;
        using TempFolder live = new();

        TempFolder.SweepFoldersOfDeadRuns();

        Assert.False(Directory.Exists(stale), "a dead run's folder should be swept");
        Assert.True(Directory.Exists(live.Path), "this run's own folder must stay");
        Assert.StartsWith($"splitemu-test-{Environment.ProcessId}-", Path.GetFileName(live.Path), StringComparison.Ordinal);
    }
}
