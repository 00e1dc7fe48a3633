using System.Text.Json;
using Iced.Intel;
using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.Launch.Reports;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Tests.Crash;

/// <summary>
/// Device processes killed under a running guest, with real processes throughout: the guest must not notice
/// (stall), or see bus errors (all-ones); restart limits lead to the configured give-up; hung handlers are
/// killed and recovered; nothing is left behind.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class CrashRecoveryTests(ITestOutputHelper output)
{
    private const ushort TestDevicePort = 0x510;

    [Fact]
    public void Campaign_100KillsOfTheDefaultUart_UnderStall_GuestOutputStaysExact()
    {
        using TempFolder folder = new();
        string reportPath = folder.File("campaign.json");

        using SplitEmuProcess run = SplitEmuProcess.Start("crash-test", "--crashes", "100", "--report", reportPath);
        run.WaitForExit(TestDeadlines.Minutes(15));

        output.WriteLine(run.StandardOutput);
        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(reportPath));
        JsonElement runs = report.RootElement.GetProperty("runs");
        Assert.Equal(HostExecutables.Kind(HostExecutables.DeviceHost), report.RootElement.GetProperty("host").GetString()); // the splitemu beside the tests
        int crashes = runs.EnumerateArray().Sum(r => r.GetProperty("crashes").GetArrayLength());
        Assert.Equal(100, crashes);
        Assert.All(runs.EnumerateArray(), r => Assert.True(r.GetProperty("outputExact").GetBoolean(), $"a run printed: {r}"));
        Assert.All(runs.EnumerateArray(), r => Assert.Equal(0, r.GetProperty("busErrors").GetInt64()));
        Assert.Equal(0, run.ExitCode);
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
        Assert.Empty(ProcessTable.Children(run.ProcessId, "SplitEmu"));
        // The campaign summarises its kills; it does not print a line per kill it asked for.
        Assert.DoesNotContain("exited unexpectedly", run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("killed as requested", run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void InjectedCrash_IsReportedAsAskedFor_NotAsAnUnexpectedExit()
    {
        using SplitEmuProcess run = SplitEmuProcess.Run("run", "--set", "devices.com1.crash.atAccess=3");

        Assert.Equal(33, run.ExitCode); // the default guest's own exit: the crash was invisible to it
        Assert.Contains("device process 'com1'", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("killed as requested (crash injection)", run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpectedly", run.StandardError, StringComparison.Ordinal);
        Assert.StartsWith("Hello from SplitEmu\n", run.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void RestartLimitReached_HaltsTheMachine_WhenTheProfileSaysHalt()
    {
        using TempFolder folder = new();
        string report = folder.File("report.json");

        using SplitEmuProcess run = SplitEmuProcess.Run(
            "run", "--report", report,
            "--set", "devices.com1.crash.everyAccesses=2",
            "--set", "devices.com1.restart.maxRestarts=2",
            "--set", "devices.com1.restart.backoffMs=0",
            "--set", "devices.com1.restart.giveUp=halt");

        Assert.Equal(ExitCodes.Failure, run.ExitCode);
        RunReport parsed = RunReport.Read(report);
        Assert.Equal("device-failure", parsed.Exit.Reason);
        DeviceSection uart = parsed.Devices.Single(d => d.Id == "com1");
        Assert.Equal(2, uart.Restarts);
        Assert.NotNull(uart.GaveUp);
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
    }

    [Fact]
    public void RestartLimitReached_LeavesTheDeviceFaulted_AndTheGuestRunsOnWithAllOnes()
    {
        using TempFolder folder = new();
        string report = folder.File("report.json");

        using SplitEmuProcess run = SplitEmuProcess.Run(
            "run", "--report", report,
            "--set", "devices.com1.crash.everyAccesses=2",
            "--set", "devices.com1.restart.policy=never",
            "--set", "devices.com1.restart.giveUp=fault");

        // The UART is gone after its first crash: its line status reads all ones (THR empty), the guest's
        // writes are dropped, and it still reaches the debug-exit port.
        Assert.Equal((SplitEmu.Guests.HelloGuest.ExitValue << 1) | 1, run.ExitCode);
        DeviceSection uart = RunReport.Read(report).Devices.Single(d => d.Id == "com1");
        Assert.Equal(0, uart.Restarts);
        Assert.Contains("never", uart.GaveUp, StringComparison.Ordinal);
        Assert.True(run.StandardOutput.Length < "Hello from SplitEmu\n".Length, $"output after the crash should be lost: '{run.StandardOutput}'");
    }

    [Fact]
    public void ReadDuringTheOutage_UnderAllOnes_ReturnsAllOnes_AndTheDeviceComesBack()
    {
        // kill at access 2 (the first read of the counter); the profile's back-off keeps the device down a while.
        using TempFolder folder = new();
        string profile = WriteTestDeviceMachine(folder, "all-ones", crash: """{ "atAccess": 2 }""", restart: """{ "backoffMs": 300 }""", accessTimeoutMs: 5000);

        using SplitEmuProcess run = SplitEmuProcess.Run("run", profile, "--report", folder.File("report.json"));

        // The guest's exit value encodes what it saw: bit 0 = the read during the outage was all ones,
        // bit 1 = a read after the restart answered (not all ones).
        Assert.Equal((3 << 1) | 1, run.ExitCode);
        Assert.Equal(1, RunReport.Read(folder.File("report.json")).Devices.Single(d => d.Id == "dev").Restarts);
    }

    [Fact]
    public void HungHandler_IsKilledAtItsDeadline_AndRecovered()
    {
        using TempFolder folder = new();
        string profile = WriteTestDeviceMachine(folder, "all-ones", crash: null, restart: """{ "backoffMs": 0 }""", accessTimeoutMs: 300, stallFirst: true);

        using SplitEmuProcess run = SplitEmuProcess.Run("run", profile, "--report", folder.File("report.json"));

        // The stalled write ends as a bus error; the restarted device answers a later read (exit value 2).
        Assert.Equal((2 << 1) | 1, run.ExitCode);
        DeviceSection device = RunReport.Read(folder.File("report.json")).Devices.Single(d => d.Id == "dev");
        Assert.Equal(1, device.Restarts);
        Assert.Contains("hung", Assert.Single(device.Crashes!).Reason, StringComparison.Ordinal);
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
    }

    /// <summary>
    /// A machine with an isolated testdev and a guest that probes it around a crash: it reads the counter
    /// (the crash lands on that read under atAccess 2), waits, reads again, and reports through the exit port.
    /// With <paramref name="stallFirst"/> the guest first writes the stall register (a handler that hangs).
    /// </summary>
    private static string WriteTestDeviceMachine(TempFolder folder, string whileDown, string? crash, string restart, int accessTimeoutMs, bool stallFirst = false)
    {
        string image = folder.File("probe.bin");
        File.WriteAllBytes(image, ProbeGuest(stallFirst));
        string profile = folder.File("probe.json");
        File.WriteAllText(profile, $$"""
            {
              "schemaVersion": 1,
              "name": "probe",
              "memory": { "sizeMiB": 2 },
              "load": [ { "file": "{{image}}", "address": "0x1000" } ],
              "cpu": { "mode": "protected32-flat", "entry": "0x1000", "stack": "0x8000" },
              "devices": [
                { "id": "dev", "type": "testdev", "io": "0x510", "placement": "isolated", "whileDown": "{{whileDown}}",
                  "accessTimeoutMs": {{accessTimeoutMs}}, "restart": {{restart}}{{(crash is null ? "" : $", \"crash\": {crash}")}} },
                { "id": "exit", "type": "debug-exit", "io": "0x501", "placement": "inline" }
              ]
            }
            """);
        return profile;
    }

    private static byte[] ProbeGuest(bool stallFirst)
    {
        Assembler a = new(32);
        Label notAllOnes = a.CreateLabel();
        Label second = a.CreateLabel();
        Label wait = a.CreateLabel();
        Label report = a.CreateLabel();
        a.xor(ebx, ebx);                                   // exit value bits
        a.mov(dx, TestDevicePort);
        if (stallFirst)
        {
            a.mov(dx, TestDevicePort + (ushort)TestDevice.StallRegister);
            a.mov(eax, 60_000u);
            a.@out(dx, eax);                               // the handler hangs; the device is killed at its deadline
            a.mov(dx, TestDevicePort);
        }
        else
        {
            a.@in(eax, dx);                                // access 1
            a.@in(eax, dx);                                // access 2: the device is killed while this is in flight
            a.cmp(eax, -1);
            a.jne(notAllOnes);
            a.or(ebx, 1);
        }

        a.Label(ref notAllOnes);
        a.mov(ecx, 200_000_000u);                          // give the launcher time to restart the device
        a.Label(ref wait);
        a.@in(eax, dx);
        a.cmp(eax, -1);
        a.jne(second);
        a.dec(ecx);
        a.jnz(wait);
        a.jmp(report);
        a.Label(ref second);
        a.or(ebx, 2);
        a.Label(ref report);
        a.mov(eax, ebx);
        a.mov(dx, 0x501);
        a.@out(dx, al);
        a.hlt();
        using MemoryStream code = new();
        a.Assemble(new StreamCodeWriter(code), 0x1000);
        return code.ToArray();
    }
}
