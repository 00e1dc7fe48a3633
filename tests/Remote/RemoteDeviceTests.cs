using System.Text.Json.Nodes;
using SplitEmu.Guests;
using SplitEmu.Tests.Guests;
using SplitEmu.Launch.Remote;
using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Infrastructure;
using SplitEmu.Tests.Launch;
using SplitEmu.Tests.Profiles;
using Xunit.Abstractions;

namespace SplitEmu.Tests.Remote;

/// <summary>
/// A machine whose console UART runs on another host, reached over a real OpenSSH server in a network namespace
/// (<see cref="SshTestHost"/>): the launcher starts a remote bridge as the UART's device process, the bridge runs
/// <c>splitemu remote-serve</c> there over ssh, and that starts the device host (docs/remote-devices.md). The guest's
/// output must be exact, through crashes too, and nothing may be left running on the host afterwards.
/// </summary>
[Trait("Category", "Slow")]
public sealed class RemoteDeviceTests(SshTestHost host, ITestOutputHelper output) : IClassFixture<SshTestHost>
{
    private const int ExpectedExitCode = (HelloGuest.ExitValue << 1) | 1;

    /// <summary>ssh reads no configuration of the developer's: only the test's own host is contacted.</summary>
    private static readonly Dictionary<string, string> s_environment = new() { [SshCommand.ConfigVariable] = "none" };

    private static string ExpectedConsole => $"Hello from SplitEmu\nChecksum: 0x{DefaultMachineTests.Crc32Ieee(HelloGuest.Table):X8}\n";

    [Fact]
    public void AUartOnAnotherHost_PrintsExactly_AndLeavesNothingRunningThere()
    {
        using TempFolder folder = new();
        RunReport report = Run(folder, [], out SplitEmuProcess run);
        using (run)
        {
            Assert.True(run.ExitCode == ExpectedExitCode, $"exit {run.ExitCode}; stderr:\n{run.StandardError}\nserver log:\n{host.ServerLog}");
            Assert.Equal(ExpectedConsole, run.StandardOutput);
            DeviceSection com1 = report.Devices.Single(d => d.Id == "com1");
            Assert.Equal("remote", com1.Host);
            Assert.Equal("lab", com1.RemoteHost);
            Assert.True(com1.Accesses.Total > 20, $"{com1.Accesses.Total} accesses reached the remote UART");
            // The guest did not wait for the remote attach (ssh, a device host started on the host) to begin: its
            // first access to the UART waited instead, and the output above is still exact.
            Assert.True(com1.AttachedMs > report.StartUpMs, $"the CPU left reset at {report.StartUpMs} ms, the UART attached at {com1.AttachedMs} ms");
            Assert.True(report.CpuStartUpMs > 0 && report.CpuStartUpMs < report.StartUpMs, $"the CPU process's start-up {report.CpuStartUpMs} ms is part of the machine's {report.StartUpMs} ms");
            AssertNothingLeftOnTheHost();
        }
    }

    [Fact]
    public void AUartOnAnotherHost_KilledAgainAndAgain_IsRestoredThere_AndTheOutputStaysExact()
    {
        using TempFolder folder = new();
        RunReport report = Run(folder, ["--set", "devices.com1.restart.backoffMs=5", "--set", """devices.com1.crash={ "everyAccesses": 10, "maxCrashes": 3 }"""], out SplitEmuProcess run);
        using (run)
        {
            Assert.True(run.ExitCode == ExpectedExitCode, $"exit {run.ExitCode}; stderr:\n{run.StandardError}");
            Assert.Equal(ExpectedConsole, run.StandardOutput);
            DeviceSection com1 = report.Devices.Single(d => d.Id == "com1");
            Assert.Equal(3, com1.Restarts);
            Assert.All(com1.Crashes!, c => Assert.Equal(0, c.Divergences));
            AssertNothingLeftOnTheHost();
        }
    }

    [Fact]
    public void AHostWhoseKeyIsUnknown_IsRefused_AndTheMachineSaysWhy()
    {
        using SplitEmuProcess run = SplitEmuProcess.StartWithEnvironment(
            s_environment, ["run", .. OnHosts(("lab", host.Entry(knownHosts: host.StrangerKnownHostsFile))), "--set", "devices.com1.host=lab", "--timeout", "120"]);
        run.WaitForExit(TestDeadlines.Minutes(2));

        Assert.NotEqual(ExpectedExitCode, run.ExitCode);
        Assert.Contains("Host key verification failed", run.StandardError);
        Assert.Equal("", File.ReadAllText(host.StrangerKnownHostsFile)); // nothing was learnt on first use
        Assert.Equal("", run.StandardOutput);
        AssertNothingLeftOnTheHost();
    }

    [Fact]
    public void PacketLossOnTheLink_ChangesNothingTheGuestSees()
    {
        using TempFolder folder = new();
        const int Bytes = 16 << 10;
        host.DropPackets(1);
        try
        {
            using SplitEmuProcess run = StartFlood(folder, Bytes, "lab", failover: null, second: null);
            run.WaitForExit(TestDeadlines.Minutes(3));

            Assert.True(run.ExitCode == FloodExitCode, $"exit {run.ExitCode}; stderr:\n{run.StandardError}");
            Assert.Equal(ConsoleFloodGuest.Expected(Bytes), run.StandardOutputBytes);
        }
        finally
        {
            host.DropPackets(null);
        }

        AssertNothingLeftOnTheHost();
    }

    [Fact]
    public void APartitionDuringIo_IsDetected_AndTheDeviceFailsOverToTheNextHost_WithExactOutput()
    {
        using TempFolder folder = new();
        using SshTestHost second = new();
        const int Bytes = 96 << 10;
        string report = folder.File("report.json");
        using SplitEmuProcess run = StartFlood(folder, Bytes, "lab", failover: "spare", second, "--report", report);
        try
        {
            Assert.True(ProcessTable.WaitUntil(() => run.StandardOutputSoFar.Length >= 4096 || run.HasExited, TestDeadlines.Minutes(1)), "no output came");
            Assert.False(run.HasExited, $"the guest ended before the partition; stderr:\n{run.StandardError}");
            host.SetLink(up: false);
            run.WaitForExit(TestDeadlines.Minutes(3));

            Assert.True(run.ExitCode == FloodExitCode, $"exit {run.ExitCode}; stderr:\n{run.StandardError}");
            Assert.Equal(ConsoleFloodGuest.Expected(Bytes), run.StandardOutputBytes);
            Assert.Contains("failing over to host 'spare'", run.StandardError);
            DeviceSection com1 = RunReport.Read(report).Devices.Single(d => d.Id == "com1");
            Assert.Equal(1, com1.Restarts);
            Assert.Equal("spare", com1.RemoteHost);
            Assert.All(com1.Crashes!, c => Assert.Equal(0, c.Divergences));

            // The lost host's remote end gave the bridge up by itself, while the link was still down.
            IReadOnlyList<string> left = [];
            Assert.True(
                ProcessTable.WaitUntil(() => !(left = host.SessionProcesses()).Any(p => p.Contains("remote-serve", StringComparison.Ordinal) || p.Contains("DeviceHost", StringComparison.Ordinal)), TestDeadlines.Seconds(20)),
                "still running on the partitioned host:\n" + string.Join('\n', left));
        }
        finally
        {
            host.SetLink(up: true);
        }

        AssertNothingLeftOnTheHost();
        Assert.True(ProcessTable.WaitUntil(() => second.SessionProcesses().Count == 0, TestDeadlines.Seconds(20)), "left on the failover host:\n" + string.Join('\n', second.SessionProcesses()));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(58)] // as BusMasterDmaTests: after the WRITE DMA and the guest's overwrite of its buffer, before the read-back
    public void ABusMasterOnAnotherHost_DmasThroughTheBridge_IntoGuestRam_AndOnlyWithinItsWindows(int killAtAccess)
    {
        // The guest drives the IDE controller's READ and WRITE DMA, checks the data and that DMA outside RAM fails
        // cleanly (BusMasterDmaGuest); the controller and its disk image are on the host.
        using TempFolder folder = new();
        string report = folder.File("report.json");
        string profile = BusMasterDmaGuest.WriteMachine(folder, "isolated");

        string[] crashes = killAtAccess > 0 ? ["--set", $"devices.ide.crash.atAccess={killAtAccess}"] : [];
        using SplitEmuProcess run = SplitEmuProcess.StartWithEnvironment(
            s_environment, ["run", profile, .. OnHosts(("lab", host.Entry())), "--set", "devices.ide.host=lab", "--report", report, "--timeout", "120", .. crashes]);
        run.WaitForExit(TestDeadlines.Minutes(2));

        Assert.True(run.ExitCode == ((BusMasterDmaGuest.Success << 1) | 1), $"exit {run.ExitCode} = guest value 0x{run.ExitCode >> 1:X2}; stderr: {run.StandardError}");
        DeviceSection ide = RunReport.Read(report).Devices.Single(d => d.Id == "ide");
        Assert.Equal("remote", ide.Host);
        Assert.Equal(killAtAccess > 0 ? 1 : 0, ide.Restarts);
        Assert.All(ide.Crashes ?? [], c => Assert.Equal(0, c.Divergences));
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
        AssertNothingLeftOnTheHost();
    }

    [Fact]
    public void ADiskImageOfARemoteDevice_IsOpenedOnItsHost_AndOneMissingThere_FailsTheStartNamingIt()
    {
        // The image is the host's file: this machine does not refuse a path it lacks (the validator checks only local
        // devices' files); the device host on the host opens it and refuses, and the launcher says so.
        using TempFolder folder = new();
        string profile = BusMasterDmaGuest.WriteMachine(folder, "isolated");
        string missing = folder.File("only-on-another-host.img");

        using SplitEmuProcess run = SplitEmuProcess.StartWithEnvironment(
            s_environment, ["run", profile, .. OnHosts(("lab", host.Entry())), "--set", "devices.ide.host=lab", "--set", $"devices.ide.config.primary-master=\"{missing}\"", "--timeout", "60"]);
        run.WaitForExit(TestDeadlines.Minutes(1));

        output.WriteLine(run.StandardError);
        Assert.NotEqual((BusMasterDmaGuest.Success << 1) | 1, run.ExitCode);
        Assert.Contains($"device process 'ide' on host 'lab': 'primary-master': cannot open disk image '{missing}'", run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("not found at", run.StandardError, StringComparison.Ordinal); // not the local validator's words
        AssertNothingLeftOnTheHost();
    }

    [Fact]
    public void DebiansLinux_WithItsConsoleAndDiskOnAnotherHost_ChecksumsExactly_WhileBothAreKilled()
    {
        // The shipped linux.json with COM1 and the IDE controller (and the disk image) on the host: the kernel boots
        // (quietly: every character on the console is a round trip over ssh) to its shell over the remote console, mounts the remote disk and checksums a file on it by DMA while both
        // device processes are killed again and again, each restored there from its snapshot and journal.
        _ = LinuxGuest.Folder;
        using TempFolder folder = new();
        (string disk, string md5, _) = LinuxTestDisk.Build(folder, 4 << 20);
        string report = folder.File("report.json");
        using SplitEmuProcess splitemu = SplitEmuProcess.StartWithEnvironment(
            s_environment,
            [
                "run", Path.Combine(ProfileTestPaths.ShippedProfiles, "linux.json"), "--report", report,
                "--set", $"kernel={LinuxGuest.Kernel}", "--set", $"initrd={LinuxGuest.Initrd}",
                "--set", "cmdline=console=ttyS0 quiet nokaslr panic=-1 lpj=1000000 cryptomgr.notests",
                .. OnHosts(("lab", host.Entry())),
                "--set", "devices.com1.host=lab", "--set", "devices.com1.crash.everyAccesses=1000", "--set", "devices.com1.restart.maxRestarts=1000",
                "--set", "devices.ide.host=lab", "--set", $"devices.ide.config.primary-master={disk}",
                "--set", "devices.ide.crash.everyAccesses=400", "--set", "devices.ide.restart.maxRestarts=1000",
            ]);
        LinuxConsole console = new(splitemu);
        System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();
        console.WaitFor("is up; busybox shell on the console", TestDeadlines.Minutes(5));
        TimeSpan boot = clock.Elapsed;
        string mounted = console.Run("mount -t ext4 /dev/sda /mnt && echo mounted-$((6*7))", TestDeadlines.Minutes(3));
        Assert.True(mounted.Contains("mounted-42", StringComparison.Ordinal), $"mounting the IDE disk failed:\n{mounted}");
        clock.Restart();
        string sum = console.Run("md5sum /mnt/big.bin", TestDeadlines.Minutes(4));
        TimeSpan checksum = clock.Elapsed;
        Assert.Contains($"{md5}  /mnt/big.bin", sum);
        console.Type("poweroff -f\n");
        splitemu.WaitForExit(TestDeadlines.Seconds(120));

        Assert.True(splitemu.ExitCode == 0, $"poweroff ended the machine with exit {splitemu.ExitCode}; stderr:\n{splitemu.StandardError}");
        RunReport parsed = RunReport.Read(report);
        DeviceSection ide = parsed.Devices.Single(d => d.Id == "ide");
        DeviceSection com1 = parsed.Devices.Single(d => d.Id == "com1");
        Assert.Equal("remote", ide.Host);
        Assert.Equal("remote", com1.Host);
        Assert.True(ide.Restarts > 0, "the IDE device process was never killed");
        Assert.True(com1.Restarts > 0, "the COM1 device process was never killed");
        Assert.All(ide.Crashes!, c => Assert.Equal(0, c.Divergences));
        Assert.All(com1.Crashes!, c => Assert.Equal(0, c.Divergences));
        output.WriteLine($"boot to the shell {boot.TotalSeconds:F1} s, md5sum of 4 MiB {checksum.TotalSeconds:F1} s; {ide.Restarts} IDE and {com1.Restarts} COM1 restarts; {parsed.WallTimeMs / 1000:F1} s in all");
        AssertNothingLeftOnTheHost();
    }

    [Fact]
    public void BenchRemote_MeasuresTheSshChannel_NextToTheRingAndTheSocket()
    {
        string profile = host.WriteHostsProfile(new JsonObject { ["lab"] = host.Entry() });

        using SplitEmuProcess bench = SplitEmuProcess.StartWithEnvironment(s_environment, "bench", "remote", profile, "--iterations", "300");
        bench.WaitForExit(TestDeadlines.Minutes(2));

        Assert.True(bench.ExitCode == 0, $"exit {bench.ExitCode}; stderr:\n{bench.StandardError}");
        output.WriteLine(bench.StandardOutput);
        string[] lines = bench.StandardOutput.Split('\n');
        foreach (string transport in new[] { "ring-handoff", "socket", "ssh:lab" })
        {
            Assert.Contains(lines, l => l.StartsWith(transport, StringComparison.Ordinal) && l.Contains(" read ", StringComparison.Ordinal) && l.Contains(" 300 ", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith(transport, StringComparison.Ordinal) && l.Contains("posted-write x16", StringComparison.Ordinal));
        }

        AssertNothingLeftOnTheHost();
    }

    private const int FloodExitCode = (ConsoleFloodGuest.ExitValue << 1) | 1;

    /// <summary>The console flood guest, its UART on <paramref name="hostName"/> (and the failover host <paramref name="second"/>).</summary>
    private SplitEmuProcess StartFlood(TempFolder folder, int bytes, string hostName, string? failover, SshTestHost? second, params string[] options)
    {
        string profile = TestMachines.WriteProfile(folder, ConsoleFloodGuest.Build(bytes));
        (string, JsonObject)[] hosts = second is null ? [("lab", host.Entry())] : [("lab", host.Entry()), ("spare", second.Entry())];
        string[] failovers = failover is null ? [] : ["--set", $"devices.com1.failover=[\"{failover}\"]"];
        return SplitEmuProcess.StartWithRawOutputAndEnvironment(
            s_environment, ["run", profile, .. OnHosts(hosts), "--set", $"devices.com1.host={hostName}", .. failovers, "--timeout", "300", .. options]);
    }

    /// <summary><c>--set hosts=...</c>: the machine's hosts, by name.</summary>
    private static string[] OnHosts(params (string Name, JsonObject Entry)[] hosts)
    {
        JsonObject all = [];
        foreach ((string name, JsonObject entry) in hosts)
        {
            all[name] = entry;
        }

        return ["--set", "hosts=" + all.ToJsonString()];
    }

    /// <summary>The default machine with its UART on the test's host, and <paramref name="options"/>.</summary>
    private RunReport Run(TempFolder folder, string[] options, out SplitEmuProcess run)
    {
        string report = folder.File("report.json");
        run = SplitEmuProcess.StartWithEnvironment(
            s_environment, ["run", .. OnHosts(("lab", host.Entry())), "--set", "devices.com1.host=lab", "--report", report, "--timeout", "120", .. options]);
        run.WaitForExit(TestDeadlines.Minutes(2));
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
        Assert.True(File.Exists(report), $"no report (exit {run.ExitCode}); stderr:\n{run.StandardError}");
        return RunReport.Read(report);
    }

    /// <summary>Every ssh session has ended on the host, and with it remote-serve and its device host (bounded wait: teardown is asynchronous).</summary>
    private void AssertNothingLeftOnTheHost()
    {
        IReadOnlyList<string> left = [];
        bool gone = ProcessTable.WaitUntil(() => (left = host.SessionProcesses()).Count == 0, TestDeadlines.Seconds(20));
        Assert.True(gone, "left running on the host:\n" + string.Join('\n', left));
    }
}
