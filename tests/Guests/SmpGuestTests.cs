using SplitEmu.Guests;
using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Infrastructure;
using SplitEmu.Tests.Monitor;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// Several vCPUs at once, with real processes: the bootstrap processor starts the others by INIT and start-up IPIs,
/// then every vCPU hammers RAM counters with LOCK'ed instructions, an XCHG spinlock and a device (a testdev, in a
/// device process or inline), and the guest checks every count (see <see cref="SmpGuest"/>). With a kill of the
/// device process in the middle, its successor is restored and replayed while the other vCPUs keep sending.
/// </summary>
[Trait("Category", "Slow")] // starts processes: not in the fast tier
public sealed class SmpGuestTests
{
    /// <summary>Rounds per vCPU: enough for the vCPUs to overlap for many thousands of accesses, bounded for a 2-core host.</summary>
    private const int Iterations = 20_000;

    [Theory]
    [InlineData(2, "isolated", 0, "translator")]
    [InlineData(4, "isolated", 0, "translator")]
    [InlineData(2, "inline", 0, "interpreter")]
    [InlineData(3, "isolated", 1_500, "translator")]
    public void EveryVcpuStarts_AndEveryCounterIsExact(int cpus, string placement, int killAtAccess, string execution)
    {
        RunReport parsed = RunGuest(cpus, placement, execution, SmpDeviceUse.PostedWriteAndRead, killAtAccess);

        Assert.Equal(cpus, parsed.Cpu!.Vcpus);
        Assert.Equal(cpus, parsed.Cpu.VcpusStarted);
        DeviceSection device = parsed.Devices.Single(d => d.Id == "dev");
        Assert.Equal(placement, device.Placement);
        if (killAtAccess > 0)
        {
            Assert.Equal(1, device.Restarts);
            Assert.All(device.Crashes!, c => Assert.Equal(0, c.Divergences));
        }
    }

    [Theory]
    [InlineData("translator")]
    [InlineData("interpreter")]
    public void DeviceMovesItselfFromItsHandler_WhileOtherVcpusReadIt_NoAccessIsLost(string execution)
    {
        // The memory-map design's hardest case with real processes: the bootstrap processor has the testdev move
        // itself between two ports from inside its own handler, thousands of times, while two other vCPUs read its
        // home port. Each move waits for the other vCPUs' accesses in flight; none reaches the device at the port
        // it left, none is lost, and the device's count is exactly the reads that answered plus the moving writes.
        RunReport parsed = RunGuest(3, "isolated", execution, SmpDeviceUse.ReadsWhileItMovesItself, killAtAccess: 0);

        Assert.Equal(0, parsed.Devices.Single(d => d.Id == "dev").Accesses.BusErrors);
    }

    /// <summary>Runs the SMP guest to its end and checks it reported success; returns the run's report.</summary>
    private static RunReport RunGuest(int cpus, string placement, string execution, SmpDeviceUse deviceUse, int killAtAccess)
    {
        using TempFolder folder = new();
        string guest = folder.File("smp.bin");
        string report = folder.File("report.json");
        File.WriteAllBytes(guest, SmpGuest.Build(cpus, Iterations, deviceUse));
        string profile = folder.File("smp.json");
        File.WriteAllText(profile, $$"""
            {
              "schemaVersion": 1,
              "name": "smp-test",
              "memory": { "sizeMiB": 16 },
              "load": [ { "file": "{{guest}}", "format": "flat", "address": "0x100000" } ],
              "cpu": { "mode": "protected32-flat", "entry": "0x100000", "stack": "0x200000", "count": {{cpus}}, "execution": "{{execution}}" },
              "devices": [
                { "id": "dev", "type": "testdev", "io": "0x510", "placement": "{{placement}}" },
                { "id": "exit", "type": "debug-exit", "io": "0x501", "placement": "inline" }
              ]
            }
            """);

        string[] crashes = killAtAccess > 0 ? ["--set", $"devices.dev.crash.atAccess={killAtAccess}"] : [];
        using SplitEmuProcess run = SplitEmuProcess.Start(["run", profile, "--report", report, "--timeout", "240", .. crashes]);
        run.WaitForExit(TestDeadlines.Minutes(5));

        Assert.True(run.ExitCode == ((SmpGuest.Success << 1) | 1), $"exit {run.ExitCode} = guest value 0x{run.ExitCode >> 1:X2}; stderr: {run.StandardError}");
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
        return RunReport.Read(report);
    }

    [Fact]
    public void DeviceUnpluggedAndPluggedWhileEveryVcpuReadsIt_NoAccessReachesItWhileGone()
    {
        // Three vCPUs read an isolated testdev while the monitor unplugs and plugs it again and again. Each unplug
        // drains the accesses in flight on every vCPU (one leaked lease and it would never return); a read while
        // it is out gets all ones, and the device's own count must equal the reads the vCPUs saw it answer.
        const int cpus = 3;
        using MonitoredMachine machine = new(
            guest: SmpGuest.Build(cpus, Iterations, SmpDeviceUse.ReadsWhileUnplugged),
            extraDevices: ["""{ "id": "dev", "type": "testdev", "io": "0x510", "placement": "isolated" }"""],
            settings: [$"cpu.count={cpus}"]);
        int cycles = 0;
        DateTime deadline = DateTime.UtcNow + TestDeadlines.Minutes(3);
        while (ProcessTable.IsAlive(machine.Run.ProcessId) && DateTime.UtcNow < deadline)
        {
            // Several cycles per monitor process: it starts in a fraction of a second, the guest may end any time.
            using SplitEmuProcess monitor = machine.Monitor("unplug dev; plug dev; unplug dev; plug dev; unplug dev; plug dev");
            if (monitor.ExitCode == 0)
            {
                cycles += 3;
            }
        }

        machine.Run.WaitForExit(TestDeadlines.Seconds(60));
        Assert.True(machine.Run.ExitCode == ((SmpGuest.Success << 1) | 1),
            $"exit {machine.Run.ExitCode} = guest value 0x{machine.Run.ExitCode >> 1:X2} after {cycles} unplug/plug cycles; stderr: {machine.Run.StandardError}");
        RunReport parsed = RunReport.Read(machine.ReportPath);
        Assert.Equal(0, parsed.Devices.Single(d => d.Id == "dev").Accesses.BusErrors);
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(machine.Run.ProcessId));
    }
}
