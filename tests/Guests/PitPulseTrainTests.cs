using SplitEmu.Launch.Reports;
using SplitEmu.Launch.Supervision;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// The PIT's periodic interrupt is a pulse train the CPU process delivers (docs/pc-platform.md): a guest counting
/// its 250 Hz tick counts every one on time even while the PIT's process is dead, killed right before the
/// counted window and restarted only long after it.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class PitPulseTrainTests
{
    [Fact]
    public void TheGuestsTick_KeepsTime_WhileThePitsProcessIsDead() => CountTicksAcrossAPitCrash(restartBackoffMs: 60000);

    /// <summary>
    /// The successor is restored from a snapshot older than the guest's programming (the journal replays it): it
    /// must not hand the machine its snapshot's train, which would replace the newer one the machine kept running.
    /// </summary>
    [Fact]
    public void TheGuestsTick_KeepsTime_WhenThePitsProcessIsRestoredFromAnOlderSnapshot() => CountTicksAcrossAPitCrash(restartBackoffMs: 10);

    private static void CountTicksAcrossAPitCrash(int restartBackoffMs)
    {
        using TempFolder folder = new();
        string guest = folder.File("ticks.bin");
        string report = folder.File("report.json");
        File.WriteAllBytes(guest, TickCountingGuest.Build());
        string profile = folder.File("ticks.json");
        File.WriteAllText(profile, $$"""
            {
              "schemaVersion": 1,
              "name": "pit-train",
              "memory": { "sizeMiB": 4 },
              "load": [ { "file": "{{guest}}", "format": "flat", "address": "0x{{TickCountingGuest.LoadAddress:x}}" } ],
              "cpu": { "mode": "protected32-flat", "entry": "0x{{TickCountingGuest.LoadAddress:x}}", "stack": "0x180000" },
              "devices": [
                { "id": "pic", "type": "i8259" },
                {
                  "id": "pit", "type": "i8254", "placement": "isolated", "whileDown": "all-ones",
                  "restart": { "policy": "on-crash", "backoffMs": {{restartBackoffMs}} },
                  "crash": { "atAccess": {{TickCountingGuest.AccessBeforeWindow}} }
                },
                { "id": "exit", "type": "debug-exit", "io": "0x{{TickCountingGuest.DebugExitPort:x}}", "placement": "inline" }
              ]
            }
            """);

        using SplitEmuProcess run = SplitEmuProcess.Start("run", profile, "--report", report);
        run.WaitForExit(TestDeadlines.Seconds(60));

        RunReport parsed = RunReport.Read(report);
        Assert.True(parsed.Exit.GuestValue is not null, $"the guest did not report (exit {run.ExitCode}); stderr: {run.StandardError}");
        DeviceSection pit = parsed.Devices.Single(d => d.Id == "pit");
        // Killed before the window, and its restart waited out the longest back-off (5 s), which the machine's
        // end cancels: the PIT never came back while the guest ran.
        Assert.Contains("device process 'pit' (pid", run.StandardError);
        Assert.Contains("killed as requested (crash injection)", run.StandardError);
        if (restartBackoffMs >= RestartTracker.MaxBackoff.TotalMilliseconds)
        {
            Assert.True(pit.Restarts == 0, $"the PIT's process was to stay dead until the machine ended: {pit.Restarts} restarts");
        }
        long ticks = (long)parsed.Exit.GuestValue!.Value;
        Assert.True(Math.Abs(ticks - TickCountingGuest.TicksPerWindow) <= 1,
            $"the guest counted {ticks} ticks in a window of {TickCountingGuest.TicksPerWindow} across the PIT process's crash; stderr: {run.StandardError}");
    }
}
