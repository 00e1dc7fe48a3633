using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Monitor;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Launch;

/// <summary>How a machine ends other than by the guest's choice, and that nothing outlives it.</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class MachineLifecycleTests
{
    /// <summary>Bound for a machine to stop after a signal.</summary>
    private static readonly TimeSpan s_stopTimeout = TestDeadlines.Seconds(15);

    /// <summary>Bound for the machine's processes to come up.</summary>
    private static readonly TimeSpan s_startTimeout = TestDeadlines.Seconds(30);

    [Theory]
    [InlineData(ProcessTable.SigTerm)]
    [InlineData(ProcessTable.SigInt)]
    public void StopSignal_EndsTheMachineCleanly_AndLeavesNothingBehind(int signal)
    {
        using TempFolder folder = new();
        string profile = TestMachines.WriteProfile(folder, TestMachines.SpinForever);
        using SplitEmuProcess run = SplitEmuProcess.Start("run", profile);
        int[] children = WaitForMachineProcesses(run);

        run.Signal(signal);
        run.WaitForExit(s_stopTimeout);

        Assert.Equal(ExitCodes.Interrupted, run.ExitCode);
        AssertNothingLeft(run.ProcessId, children);
    }

    [Fact]
    public void CtrlC_AtATerminal_ReachesTheWholeProcessGroup_AndStillStopsTheMachineCleanly_With130()
    {
        // The monitor socket is up once every process is attached and the guest is about to run.
        using MonitoredMachine machine = new(processGroupLeader: true);
        int[] children = [.. ProcessTable.Children(machine.Run.ProcessId, "SplitEmu.CpuHost"), .. ProcessTable.Children(machine.Run.ProcessId, "SplitEmu.DeviceHost")];

        machine.Run.SignalProcessGroup(ProcessTable.SigInt); // what the terminal does on Ctrl-C
        machine.Run.WaitForExit(s_stopTimeout);

        Assert.True(ExitCodes.Interrupted == machine.Run.ExitCode, $"exit {machine.Run.ExitCode}. stderr:\n{machine.Run.StandardError}");
        RunReport report = RunReport.Read(machine.ReportPath);
        Assert.Equal("stopped", report.Exit.Reason);
        Assert.Equal("stopped by Ctrl-C", report.Exit.Detail);
        Assert.All(report.Devices, device => Assert.Equal(0, device.Restarts));
        Assert.Empty(machine.Run.StandardError); // no device process took the signal and died
        AssertNothingLeft(machine.Run.ProcessId, children);
    }

    [Fact]
    public void GuestThatTripleFaults_EndsTheMachine_WithTheCrashExitCode()
    {
        using TempFolder folder = new();
        string profile = TestMachines.WriteProfile(folder, TestMachines.TripleFault);

        using SplitEmuProcess run = SplitEmuProcess.Run("run", profile);

        Assert.Equal(ExitCodes.GuestCrashed, run.ExitCode);
        Assert.Contains("cpu-shutdown", run.StandardError, StringComparison.Ordinal);
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
    }

    [Fact]
    public void TimeLimit_StopsASpinningGuest_WithTheTimeoutExitCode()
    {
        using TempFolder folder = new();
        string profile = TestMachines.WriteProfile(folder, TestMachines.SpinForever);

        using SplitEmuProcess run = SplitEmuProcess.Run("run", profile, "--timeout", "1");

        Assert.Equal(ExitCodes.Timeout, run.ExitCode);
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
    }

    [Fact]
    public void LauncherKilled_ItsChildrenNoticeAndExit()
    {
        using TempFolder folder = new();
        string profile = TestMachines.WriteProfile(folder, TestMachines.SpinForever);
        using SplitEmuProcess run = SplitEmuProcess.Start("run", profile);
        int[] children = WaitForMachineProcesses(run);

        run.Signal(ProcessTable.SigKill);

        Assert.True(
            ProcessTable.WaitUntil(() => children.All(pid => !ProcessTable.IsAlive(pid)), s_stopTimeout),
            "the CPU and device processes must exit when their launcher dies");
        // The segment's file name was removed as soon as both sides had it mapped: nothing can leak.
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
    }

    [Fact]
    public void MissingImage_GivesOneLineNamingTheFile_AndExitCode2()
    {
        using TempFolder folder = new();
        string missing = folder.File("no-such-guest.bin");
        string profile = TestMachines.WriteProfileFor(folder, missing);

        using SplitEmuProcess run = SplitEmuProcess.Run("run", profile);

        Assert.Equal(ExitCodes.BadInput, run.ExitCode);
        string[] lines = run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("no-such-guest.bin", lines[0], StringComparison.Ordinal);
        Assert.Empty(run.StandardOutput);
    }

    [Fact]
    public void TruncatedImage_GivesOneLineNamingTheFile_AndExitCode2()
    {
        using TempFolder folder = new();
        byte[] whole = SplitEmu.Guests.HelloGuest.Build();
        string truncated = folder.File("hello-truncated.bin");
        File.WriteAllBytes(truncated, whole[..(whole.Length / 2)]);
        string profile = TestMachines.WriteProfileFor(folder, truncated);

        using SplitEmuProcess run = SplitEmuProcess.Run("run", profile);

        Assert.Equal(ExitCodes.BadInput, run.ExitCode);
        string line = Assert.Single(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("hello-truncated.bin", line, StringComparison.Ordinal);
        Assert.Contains("truncated", line, StringComparison.Ordinal);
        Assert.Empty(run.StandardOutput);
    }

    private static int[] WaitForMachineProcesses(SplitEmuProcess run)
    {
        int[] children = [];
        bool up = ProcessTable.WaitUntil(
            () =>
            {
                children = [.. ProcessTable.Children(run.ProcessId, "SplitEmu.CpuHost"), .. ProcessTable.Children(run.ProcessId, "SplitEmu.DeviceHost")];
                return children.Length == 2;
            },
            s_startTimeout);
        Assert.True(up, $"expected a CPU and a device process under the launcher. stderr:\n{run.StandardError}");
        Thread.Sleep(200); // let the guest start running
        return children;
    }

    private static void AssertNothingLeft(int launcherPid, int[] children)
    {
        Assert.True(
            ProcessTable.WaitUntil(() => children.All(pid => !ProcessTable.IsAlive(pid)), s_stopTimeout),
            "child processes outlived the machine");
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(launcherPid));
    }
}
