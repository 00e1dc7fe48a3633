using System.Globalization;
using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Infrastructure;
using SplitEmu.Tests.Monitor;

namespace SplitEmu.Tests.Launch;

/// <summary>
/// The machine's warm spares are one pool for all its device processes (docs/processes.md, "Spares"): a machine
/// of three restartable device processes with <c>"spares": 1</c> runs one spare, not three; crashes of two
/// different devices are served from the pool, which refills, and nothing is left behind.
/// </summary>
[Trait("Category", "Slow")] // starts processes: not in the fast tier
public sealed class SparePoolTests
{
    /// <summary>Bound for the machine's processes to come up or be replaced (loaded test machine).</summary>
    private static readonly TimeSpan s_timeout = TestDeadlines.Seconds(60);

    private static readonly string[] s_twoMoreUarts =
    [
        """{ "id": "com2", "type": "uart16550", "io": "0x2f8", "irq": 3, "placement": "isolated" }""",
        """{ "id": "com3", "type": "uart16550", "io": "0x3e8", "irq": 5, "placement": "isolated" }""",
    ];

    [Fact]
    public void ThreeDeviceProcesses_ShareOneSpare_AndCrashesOfTwoDevices_AreServedAndRefilled()
    {
        using MonitoredMachine machine = new(extraDevices: s_twoMoreUarts, settings: ["spares=1"]);
        int launcher = machine.Run.ProcessId;
        int DeviceHosts() => ProcessTable.Children(launcher, "SplitEmu.DeviceHost").Count;

        // Three device processes and the one spare; a spare per device process would make six.
        Assert.True(ProcessTable.WaitUntil(() => DeviceHosts() == 4, s_timeout), $"expected 3 device processes and 1 spare, found {DeviceHosts()} device hosts");

        string before = machine.MonitorOk("info devices");
        machine.MonitorOk("crash com2");
        Assert.True(ProcessTable.WaitUntil(() => Replaced(machine, before, "com2") && DeviceHosts() == 4, s_timeout),
            "com2 was not restarted from the spare with the pool refilled");
        machine.MonitorOk("crash com3");
        Assert.True(ProcessTable.WaitUntil(() => Replaced(machine, before, "com3") && DeviceHosts() == 4, s_timeout),
            "com3 was not restarted with the pool refilled");

        IReadOnlyList<int> processes = ProcessTable.Children(launcher, "SplitEmu"); // the CPU process, device processes and the spare
        machine.MonitorOk("quit");
        machine.Run.WaitForExit(s_timeout);
        Assert.True(ProcessTable.WaitUntil(() => !processes.Any(ProcessTable.IsAlive), s_timeout),
            $"processes of the machine outlived it: {string.Join(", ", processes.Where(ProcessTable.IsAlive))}");
        RunReport report = RunReport.Read(machine.ReportPath);
        Assert.Equal(1, report.Spares!.Size);
        Assert.Equal(3, report.Spares.Started); // the first fill and one refill per crash
        foreach (string id in new[] { "com2", "com3" })
        {
            CrashSection crash = Assert.Single(report.Devices.Single(d => d.Id == id).Crashes!);
            Assert.True(crash.FromSpare, $"{id}'s successor was started for the restart, not taken from the pool (the pool had a ready spare)");
        }

        Assert.Null(report.Devices.Single(d => d.Id == "com1").Crashes);
    }

    [Fact]
    public void NoSpares_EveryRestartStartsItsOwnProcess()
    {
        using MonitoredMachine machine = new(settings: ["spares=0"]);
        int launcher = machine.Run.ProcessId;
        Assert.True(ProcessTable.WaitUntil(() => ProcessTable.Children(launcher, "SplitEmu.DeviceHost").Count == 1, s_timeout), "expected com1's process alone");

        string before = machine.MonitorOk("info devices");
        machine.MonitorOk("crash com1");
        Assert.True(ProcessTable.WaitUntil(() => Replaced(machine, before, "com1"), s_timeout), "com1 was not restarted");
        machine.MonitorOk("quit");
        machine.Run.WaitForExit(s_timeout);

        RunReport report = RunReport.Read(machine.ReportPath);
        Assert.Null(report.Spares);
        Assert.False(Assert.Single(report.Devices.Single(d => d.Id == "com1").Crashes!).FromSpare);
    }

    /// <summary>Whether <paramref name="device"/> runs in a live process other than the one it had in <paramref name="before"/>.</summary>
    private static bool Replaced(MonitoredMachine machine, string before, string device)
    {
        int now = ProcessIdIn(machine.MonitorOk("info devices"), device);
        return now != 0 && now != ProcessIdIn(before, device);
    }

    private static int ProcessIdIn(string infoDevices, string device) =>
        int.TryParse(MonitoredMachine.DeviceRow(infoDevices, device)[3], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : 0;
}
