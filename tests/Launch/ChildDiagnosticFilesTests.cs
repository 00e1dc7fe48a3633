using System.Globalization;
using SplitEmu.Tests.Infrastructure;
using SplitEmu.Tests.Monitor;

namespace SplitEmu.Tests.Launch;

/// <summary>
/// A killed child leaves no .NET runtime files behind: the runtime's diagnostic socket
/// (<c>dotnet-diagnostic-PID-*-socket</c>) and debugger pipes (<c>clr-debug-pipe-PID-*</c>) are only removed on a
/// clean exit, so the launcher starts its children with them turned off.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class ChildDiagnosticFilesTests
{
    /// <summary>Bound for a crashed device process to be replaced (loaded test machine).</summary>
    private static readonly TimeSpan s_restartTimeout = TestDeadlines.Seconds(45);

    [Fact]
    public void KilledDeviceProcess_LeavesNoRuntimeFilesInTemp()
    {
        // Only files made from now on count: a process SIGKILLed earlier on this machine with the same (recycled)
        // pid may have left its own, which this test did not cause and cannot remove.
        DateTime since = DateTime.UtcNow.AddSeconds(-1);
        using MonitoredMachine machine = new();
        int killed = DevicePid(machine.MonitorOk("info devices"));

        machine.MonitorOk("crash com1");
        bool replaced = ProcessTable.WaitUntil(
            () => DevicePid(machine.MonitorOk("info devices")) is int now && now != killed && now != 0,
            s_restartTimeout);

        Assert.True(replaced, "com1 must be restarted after the crash");
        Assert.False(ProcessTable.IsAlive(killed));
        Assert.Empty(RuntimeFilesOf(killed, since));
        Assert.Empty(RuntimeFilesOf(DevicePid(machine.MonitorOk("info devices")), since));
    }

    /// <summary>com1's process id in an `info devices` output, 0 while it has none.</summary>
    private static int DevicePid(string infoDevices) =>
        int.TryParse(MonitoredMachine.DeviceRow(infoDevices, "com1")[3], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : 0;

    /// <summary>Entries of the temp folder the .NET runtime names after process <paramref name="pid"/>, made since <paramref name="since"/>.</summary>
    private static string[] RuntimeFilesOf(int pid, DateTime since) =>
        Directory.EnumerateFileSystemEntries(Path.GetTempPath())
            .Where(path => Path.GetFileName(path) is { } n
                && (n.StartsWith($"dotnet-diagnostic-{pid}-", StringComparison.Ordinal) || n.StartsWith($"clr-debug-pipe-{pid}-", StringComparison.Ordinal))
                && File.GetLastWriteTimeUtc(path) >= since)
            .Select(Path.GetFileName)
            .OfType<string>()
            .ToArray();
}
