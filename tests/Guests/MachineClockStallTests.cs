using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// The machine clock stands still while the vCPU is stalled on a dead device: a guest that times one access
/// with the TSC, during which the device's process is killed and restarted only after a long back-off, sees
/// far less time pass than it was blocked (it sees the access's round trips, not the outage). It also holds
/// for a vCPU blocked on a live device that answers late: the guest sees at most the clock's lead.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class MachineClockStallTests
{
    private const ushort DevicePort = 0x510;
    private const int RestartBackoffMs = 2000;

    [Fact]
    public void GuestTimesAnAccessItsDeviceDiedIn_AndSeesLessThanTheOutage()
    {
        using TempFolder folder = new();
        string guest = folder.File("clock.bin");
        string report = folder.File("report.json");
        File.WriteAllBytes(guest, StalledClockGuest.Build(DevicePort + (ushort)TestDevice.CounterRegister));
        string profile = folder.File("clock.json");
        File.WriteAllText(profile, $$"""
            {
              "schemaVersion": 1,
              "name": "stalled-clock",
              "memory": { "sizeMiB": 2 },
              "load": [ { "file": "{{guest}}", "format": "flat", "address": "0x100000" } ],
              "cpu": { "mode": "protected32-flat", "entry": "0x100000", "stack": "0x180000" },
              "devices": [
                {
                  "id": "dev", "type": "testdev", "io": "0x{{DevicePort:x}}", "placement": "isolated", "whileDown": "stall",
                  "restart": { "policy": "on-crash", "backoffMs": {{RestartBackoffMs}} },
                  "crash": { "atAccess": 1 }
                },
                { "id": "exit", "type": "debug-exit", "io": "0x{{StalledClockGuest.DebugExitPort:x}}", "placement": "inline" }
              ]
            }
            """);

        using SplitEmuProcess run = SplitEmuProcess.Start("run", profile, "--report", report);
        run.WaitForExit(TestDeadlines.Seconds(60));

        RunReport parsed = RunReport.Read(report);
        Assert.True(parsed.Exit.GuestValue is not null, $"the guest did not report (exit {run.ExitCode}); stderr: {run.StandardError}");
        double guestSawMs = parsed.Exit.GuestValue!.Value * (StalledClockGuest.UnitNanoseconds / 1e6);
        CrashSection crash = Assert.Single(parsed.Devices.Single(d => d.Id == "dev").Crashes!);
        double blockedMs = crash.GuestBlockedMs ?? double.NaN;
        Assert.True(blockedMs >= RestartBackoffMs, $"the guest was blocked only {blockedMs} ms; the back-off is {RestartBackoffMs} ms");
        Assert.True(guestSawMs < blockedMs - RestartBackoffMs / 2,
            $"the guest saw {guestSawMs} ms pass in an access it was blocked in for {blockedMs} ms: the machine clock ran during the outage");
    }

    [Fact]
    public void GuestTimesAnAccessItsDeviceAnswersLate_AndSeesAtMostTheClocksLead()
    {
        const int StallMs = 300;
        using TempFolder folder = new();
        string guest = folder.File("slow.bin");
        string report = folder.File("report.json");
        File.WriteAllBytes(guest, StalledClockGuest.Build(DevicePort + (ushort)TestDevice.StallRegister, writeValue: StallMs));
        string profile = folder.File("slow.json");
        File.WriteAllText(profile, $$"""
            {
              "schemaVersion": 1,
              "name": "slow-device-clock",
              "memory": { "sizeMiB": 2 },
              "load": [ { "file": "{{guest}}", "format": "flat", "address": "0x100000" } ],
              "cpu": { "mode": "protected32-flat", "entry": "0x100000", "stack": "0x180000" },
              "devices": [
                { "id": "dev", "type": "testdev", "io": "0x{{DevicePort:x}}", "placement": "isolated" },
                { "id": "exit", "type": "debug-exit", "io": "0x{{StalledClockGuest.DebugExitPort:x}}", "placement": "inline" }
              ]
            }
            """);

        using SplitEmuProcess run = SplitEmuProcess.Start("run", profile, "--report", report);
        run.WaitForExit(TestDeadlines.Seconds(60));

        RunReport parsed = RunReport.Read(report);
        Assert.True(parsed.Exit.GuestValue is not null, $"the guest did not report (exit {run.ExitCode}); stderr: {run.StandardError}");
        // The guest checks in before the access and the clock holds a lead past that; after the reply it goes on
        // from the held time. So the guest sees under two leads (2 ms), below one unit (16 ms); before the lead
        // it saw the whole 300 ms stall.
        Assert.True(parsed.Exit.GuestValue == 0,
            $"the guest saw {parsed.Exit.GuestValue * StalledClockGuest.UnitNanoseconds / 1_000_000} ms or more pass in an access its device answered {StallMs} ms late");
    }
}
