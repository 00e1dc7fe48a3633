using SplitEmu.Launch.Supervision;
using System.Text.RegularExpressions;
using SplitEmu.Launch.Monitor;
using SplitEmu.Launch.Reports;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Monitor;

/// <summary>
/// `splitemu monitor NAME --exec ...` against one running machine (shared by the tests of this class, which
/// run one after another; each leaves the machine running, resumed and plugged).
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class MonitorCommandTests(MonitoredMachineFixture fixture) : IClassFixture<MonitoredMachineFixture>
{
    /// <summary>How long a paused vCPU is watched for not advancing.</summary>
    private static readonly TimeSpan s_pausedWatch = TimeSpan.FromMilliseconds(750);

    /// <summary>Bound for a resumed vCPU to advance, and for a crashed device process to be replaced (loaded test machine).</summary>
    private static readonly TimeSpan s_progressTimeout = TestDeadlines.Seconds(45);

    private MonitoredMachine Machine => fixture.Machine;

    [Fact]
    public void InfoDevicesAndRegions_NameCom1_WithItsProcessAndLeaseCount()
    {
        string output = Machine.MonitorOk("info devices; info regions");

        string[] com1 = MonitoredMachine.DeviceRow(output, "com1");
        Assert.Equal(["com1", "uart16550", "isolated"], com1[..3]);
        Assert.True(int.Parse(com1[3], System.Globalization.CultureInfo.InvariantCulture) > 0, $"com1 must name its process:\n{output}");
        Assert.Equal(HostExecutables.Kind(HostExecutables.DeviceHost), com1[7]); // which build of the device host runs it
        Assert.Equal("cpu", MonitoredMachine.DeviceRow(output, "exit")[7]);
        Assert.Matches(new Regex(@"^com1\s+io\s+0x3f8-0x3ff\s+\S+\s+device\s+mapped\s+\d+$", RegexOptions.Multiline), output);
        Assert.Matches(new Regex(@"^owner\s+space\s+range\s+name\s+kind\s+state\s+leases$", RegexOptions.Multiline), output);
    }

    [Fact]
    public void Pause_StopsInstructions_Resume_LetsThemAdvance()
    {
        string paused = Machine.MonitorOk("pause; info stats");
        Thread.Sleep(s_pausedWatch);
        string stillPaused = Machine.MonitorOk("info stats; resume");
        long atPause = Assert.Single(MonitoredMachine.Instructions(paused));
        long afterWatch = Assert.Single(MonitoredMachine.Instructions(stillPaused));

        long resumed = 0;
        bool advanced = ProcessTable.WaitUntil(
            () => (resumed = MonitoredMachine.Instructions(Machine.MonitorOk("info stats")).Single()) > afterWatch,
            s_progressTimeout);

        Assert.Contains("cpu:          paused", paused, StringComparison.Ordinal);
        Assert.Equal(atPause, afterWatch);
        Assert.True(advanced, $"instructions must advance after resume: {afterWatch} then {resumed}");
    }

    [Fact]
    public void Unplug_TakesCom1OutOfTheMap_Plug_PutsItBack()
    {
        string unplugged = Machine.MonitorOk("unplug com1; info regions; info devices");
        string plugged = Machine.MonitorOk("plug com1; info regions; info devices");

        Assert.Matches(new Regex(@"^com1\s+io\s+0x3f8-0x3ff\s+\S+\s+device\s+removed\s+0$", RegexOptions.Multiline), unplugged);
        Assert.Equal("unplugged", MonitoredMachine.DeviceRow(unplugged, "com1")[6]);
        Assert.Matches(new Regex(@"^com1\s+io\s+0x3f8-0x3ff\s+\S+\s+device\s+mapped\s+\d+$", RegexOptions.Multiline), plugged);
        Assert.Equal("running", MonitoredMachine.DeviceRow(plugged, "com1")[6]);
    }

    [Fact]
    public void Crash_KillsCom1sProcess_AndTheLauncherRestartsIt()
    {
        string before = Machine.MonitorOk("info devices");
        int oldPid = int.Parse(MonitoredMachine.DeviceRow(before, "com1")[3], System.Globalization.CultureInfo.InvariantCulture);
        int oldRestarts = int.Parse(MonitoredMachine.DeviceRow(before, "com1")[5], System.Globalization.CultureInfo.InvariantCulture);

        string crash = Machine.MonitorOk("crash com1");
        string[] row = [];
        bool restarted = ProcessTable.WaitUntil(
            () =>
            {
                row = MonitoredMachine.DeviceRow(Machine.MonitorOk("info devices"), "com1");
                return row[6] == "running" && row[3] != oldPid.ToString(System.Globalization.CultureInfo.InvariantCulture) && row[3] != "-";
            },
            s_progressTimeout);

        Assert.Contains($"pid {oldPid}", crash, StringComparison.Ordinal);
        Assert.True(restarted, $"com1 must run in a new process: {string.Join(' ', row)}");
        Assert.True(int.Parse(row[5], System.Globalization.CultureInfo.InvariantCulture) >= oldRestarts + 1, $"restarts must count the crash: {string.Join(' ', row)}");
        Assert.False(ProcessTable.IsAlive(oldPid));
    }

    [Fact]
    public void UnknownCommand_FailsWithExitCode2_AndSaysSo()
    {
        using SplitEmuProcess monitor = Machine.Monitor("info devices; frobnicate com1");

        Assert.Equal(ExitCodes.BadInput, monitor.ExitCode);
        Assert.Contains("unknown command 'frobnicate'", monitor.StandardError, StringComparison.Ordinal);
        Assert.Contains("com1", monitor.StandardOutput, StringComparison.Ordinal); // the first command ran
    }

    [Fact]
    public void UnknownDevice_FailsWithExitCode8_AndListsTheDevices()
    {
        using SplitEmuProcess monitor = Machine.Monitor("unplug com9");

        Assert.Equal(ExitCodes.Failure, monitor.ExitCode);
        Assert.Contains("no device 'com9'; its devices: com1, exit", monitor.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void CrashingAnInlineDevice_IsRefused()
    {
        using SplitEmuProcess monitor = Machine.Monitor("crash exit");

        Assert.Equal(ExitCodes.Failure, monitor.ExitCode);
        Assert.Contains("'exit' is inline", monitor.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void NoSuchMachine_FailsWithExitCode2_AndListsTheRunningOnes()
    {
        using SplitEmuProcess monitor = SplitEmuProcess.Run("monitor", "no-such-machine-" + Guid.NewGuid().ToString("N")[..8], "--exec", "info devices");

        Assert.Equal(ExitCodes.BadInput, monitor.ExitCode);
        Assert.Contains("is running", monitor.StandardError, StringComparison.Ordinal);
        Assert.Contains(Machine.Name, monitor.StandardError, StringComparison.Ordinal); // ours runs
    }
}

/// <summary>The machine <see cref="MonitorCommandTests"/> share.</summary>
public sealed class MonitoredMachineFixture : IDisposable
{
    /// <summary>The machine.</summary>
    public MonitoredMachine Machine { get; } = new();

    /// <inheritdoc/>
    public void Dispose() => Machine.Dispose();
}

/// <summary>How a machine ends through its monitor, and what it leaves behind.</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class MonitorQuitTests
{
    /// <summary>Bound for the machine to end after quit.</summary>
    private static readonly TimeSpan s_stopTimeout = TestDeadlines.Seconds(30);

    [Fact]
    public void Quit_EndsTheMachineWithExitCode130_ListsTheSocketInTheReport_AndRemovesIt()
    {
        using MonitoredMachine machine = new();

        string output = machine.MonitorOk("quit");
        machine.Run.WaitForExit(s_stopTimeout);

        Assert.Contains("stopping", output, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Interrupted, machine.Run.ExitCode);
        Assert.Equal(machine.SocketPath, RunReport.Read(machine.ReportPath).MonitorSocket);
        Assert.False(File.Exists(machine.SocketPath), "the monitor socket must be removed when the machine ends");
        // Output is redirected here, so no status line: nothing drawn in place.
        Assert.DoesNotContain("\x1b[K", machine.Run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("instr/s", machine.Run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void QuitWhilePaused_StillEndsTheMachine()
    {
        using MonitoredMachine machine = new();

        machine.MonitorOk("pause; quit");
        machine.Run.WaitForExit(s_stopTimeout);

        Assert.Equal(ExitCodes.Interrupted, machine.Run.ExitCode);
        Assert.False(File.Exists(machine.SocketPath));
    }
}

/// <summary>`splitemu profiles`.</summary>
public sealed class ProfilesCommandTests
{
    [Fact]
    public void Profiles_ListsEachShippedProfile_WithItsNameAndDevices()
    {
        using SplitEmuProcess profiles = SplitEmuProcess.Run("profiles");

        Assert.Equal(0, profiles.ExitCode);
        Assert.Matches(new Regex(@"^\s+default\s+default\.json\s+16 MiB; com1 \(uart16550, isolated, console\); exit \(debug-exit, inline\)$", RegexOptions.Multiline), profiles.StandardOutput);
        Assert.Matches(new Regex(@"^\s+crash-demo\s+crash-demo\.json\s+.*up to 20 restarts per 60 s then fault", RegexOptions.Multiline), profiles.StandardOutput);
        Assert.Matches(new Regex(@"^\s+inline-uart\s+inline-vs-isolated\.json\s+.*com1 \(uart16550, inline, console\)", RegexOptions.Multiline), profiles.StandardOutput);
    }
}
