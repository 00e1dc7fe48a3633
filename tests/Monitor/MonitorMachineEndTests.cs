using System.Text;
using SplitEmu.Launch.Reports;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Monitor;

/// <summary>
/// An attached `splitemu monitor` notices the machine ending: it says how (reason, exit code, detail) and exits
/// with its documented code; `quit` says that the machine ended, and the report tells a quit from a signal.
/// </summary>
[Trait("Category", "Slow")] // starts processes: not in the fast tier
public sealed class MonitorMachineEndTests
{
    /// <summary>POSIX SIGTERM.</summary>
    private const int SigTerm = 15;

    /// <summary>Bound for the attached monitor to answer its first command, and for processes to end (loaded test machine).</summary>
    private static readonly TimeSpan s_timeout = TestDeadlines.Seconds(30);

    [Fact]
    public void AttachedMonitor_WhenTheMachineIsStoppedElsewhere_SaysHowItEnded_AndExitsWithMonitoredMachineEnded()
    {
        using MonitoredMachine machine = new();
        using SplitEmuProcess attached = SplitEmuProcess.Start("monitor", machine.Name);
        attached.StandardInput.Write(Encoding.ASCII.GetBytes("info machine\n"));
        attached.StandardInput.Flush();
        bool connected = ProcessTable.WaitUntil(() => attached.StandardOutput.Contains("launcher: pid", StringComparison.Ordinal), s_timeout);

        machine.Run.Signal(SigTerm);
        attached.WaitForExit(s_timeout);
        machine.Run.WaitForExit(s_timeout);

        Assert.True(connected, $"the monitor must answer while attached. stderr:\n{attached.StandardError}");
        Assert.Equal(ExitCodes.MonitoredMachineEnded, attached.ExitCode);
        Assert.Contains($"splitemu monitor: machine '{machine.MonitorName}' ended: stopped, exit code 130 (stopped by SIGTERM)", attached.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void Quit_SaysTheMachineEnded_AndTheReportNamesTheMonitor()
    {
        using MonitoredMachine machine = new();

        string output = machine.MonitorOk("quit");
        machine.Run.WaitForExit(s_timeout);

        Assert.Contains($"machine '{machine.MonitorName}' ended: stopped, exit code 130 ({MachineRun.MonitorQuitDetail})", output, StringComparison.Ordinal);
        Assert.Equal(MachineRun.MonitorQuitDetail, RunReport.Read(machine.ReportPath).Exit.Detail);
    }
}
