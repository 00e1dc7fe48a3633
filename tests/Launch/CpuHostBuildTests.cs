using SplitEmu.Launch.Reports;
using SplitEmu.Launch.Supervision;
using SplitEmu.Tests.Infrastructure;
using SplitEmu.Tests.Monitor;

namespace SplitEmu.Tests.Launch;

/// <summary>
/// The launcher starts the ReadyToRun build of the CPU host where the build made one (r2r/ beside splitemu,
/// docs/processes.md), the plain JIT one otherwise or when SPLITEMU_JIT_HOSTS=1 asks, and the machine runs on either.
/// </summary>
[Trait("Category", "Slow")] // starts processes: not in the fast tier
public sealed class CpuHostBuildTests
{
    [Fact]
    public void TheCpuProcess_IsTheReadyToRunBuild_WhereTheBuildMadeOne()
    {
        string readyToRun = Path.Combine(AppContext.BaseDirectory, HostExecutables.ReadyToRunFolder, HostExecutables.CpuHost);
        bool expectReadyToRun = HostExecutables.Kind(HostExecutables.CpuHost) == "r2r"; // the splitemu beside the tests decides alike
        using MonitoredMachine machine = new();

        int cpu = Assert.Single(ProcessTable.Children(machine.Run.ProcessId, HostExecutables.CpuHost));
        string program = File.ReadAllText($"/proc/{cpu}/cmdline").Split('\0')[0];

        Assert.Equal(expectReadyToRun ? readyToRun : Path.Combine(AppContext.BaseDirectory, HostExecutables.CpuHost), program);
        Assert.Contains("instructions:", machine.MonitorOk("info stats"), StringComparison.Ordinal); // and it runs the guest

        machine.MonitorOk("quit");
        machine.Run.WaitForExit(TestDeadlines.Seconds(60));
        Assert.Equal(expectReadyToRun ? "r2r" : "jit", RunReport.Read(machine.ReportPath).CpuHost); // and the report says which
    }
}
