using System.Diagnostics;
using System.Net.Sockets;
using SplitEmu.Launch.Monitor;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Monitor;

/// <summary>
/// Monitor sockets are per run (NAME-PID): runs of the same name coexist and are told apart, a name shared by
/// two runs is never guessed, sockets of dead runs are cleaned up, and a socket of another user is refused.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Category", "Slow")] // starts processes: not in the fast tier
public sealed class MonitorRunNamesTests : IDisposable
{
    private readonly TempFolder _scratch = new();

    /// <inheritdoc/>
    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void TwoRunsOfTheSameName_EachIsReachedByNameDashPid_AndTheBareNameListsBoth()
    {
        string name = MonitoredMachine.UniqueName();
        using MonitoredMachine first = new(name);
        using MonitoredMachine second = new(name);

        string firstInfo = MonitorOk(first.MonitorName, "info machine");
        string secondInfo = MonitorOk(second.MonitorName, "info machine");
        using SplitEmuProcess ambiguous = SplitEmuProcess.Run("monitor", name, "--exec", "info machine");
        using SplitEmuProcess list = SplitEmuProcess.Run("monitor", "list");

        Assert.Equal($"{name}-{first.Run.ProcessId}", first.MonitorName);
        Assert.Contains($"launcher: pid {first.Run.ProcessId}", firstInfo, StringComparison.Ordinal);
        Assert.Contains($"launcher: pid {second.Run.ProcessId}", secondInfo, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.BadInput, ambiguous.ExitCode);
        Assert.Contains($"2 running machines are named '{name}'", ambiguous.StandardError, StringComparison.Ordinal);
        Assert.Contains(first.MonitorName, ambiguous.StandardError, StringComparison.Ordinal);
        Assert.Contains(second.MonitorName, ambiguous.StandardError, StringComparison.Ordinal);
        Assert.Equal(0, list.ExitCode);
        Assert.Contains(first.MonitorName, list.StandardOutput, StringComparison.Ordinal);
        Assert.Contains(second.MonitorName, list.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void SocketOfADeadRun_IsRemovedByList_AndIgnoredWhenResolvingItsName()
    {
        string folder = PrivateMonitorFolder();
        int deadPid = DeadProcessId();
        string stale = Path.Combine(folder, new MonitorSocketName("gone", deadPid).FileName);
        Listen(stale).Dispose(); // closing leaves the file behind, as a SIGKILLed launcher does

        using SplitEmuProcess list = RunWithFolder(folder, "monitor", "list");
        bool removedByList = !File.Exists(stale);
        Listen(stale).Dispose(); // left again, for the lookup by name
        using SplitEmuProcess byName = RunWithFolder(folder, "monitor", "gone", "--exec", "info machine");

        Assert.Equal(0, list.ExitCode);
        Assert.Contains("no machine is running", list.StandardOutput, StringComparison.Ordinal);
        Assert.True(removedByList, $"`monitor list` must remove {stale}, whose launcher (pid {deadPid}) is gone");
        Assert.Equal(ExitCodes.BadInput, byName.ExitCode);
        Assert.Contains("no machine named 'gone' is running", byName.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void SocketOwnedByAnotherUser_IsRefused_ByNameAndByPath()
    {
        if (!FileOwner.CanGiveAway)
        {
            // Only root can plant a socket of another uid; anyone can reach one in a folder of another user.
            SocketInAFolderOfAnotherUser_IsRefused_ByPath();
            return;
        }

        string folder = PrivateMonitorFolder();
        string planted = Path.Combine(folder, new MonitorSocketName("theirs", Environment.ProcessId).FileName);
        using Socket listener = Listen(planted); // alive, and named after a live pid: only its owner is wrong
        FileOwner.Set(planted, FileOwner.Stranger);

        using SplitEmuProcess byName = RunWithFolder(folder, "monitor", "theirs", "--exec", "info machine");
        using SplitEmuProcess byPath = RunWithFolder(folder, "monitor", planted, "--exec", "info machine");

        Assert.Equal(ExitCodes.BadInput, byName.ExitCode);
        Assert.Contains($"refusing to attach to 'theirs': {planted} is owned by uid {FileOwner.Stranger}", byName.StandardError, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.BadInput, byPath.ExitCode);
        Assert.Contains($"is owned by uid {FileOwner.Stranger}, not by you", byPath.StandardError, StringComparison.Ordinal);
    }

    private void SocketInAFolderOfAnotherUser_IsRefused_ByPath()
    {
        (string foreign, uint owner) = FileOwner.ForeignFolder(_scratch);
        string planted = Path.Combine(foreign, $"splitemu-test-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
        try
        {
            using Socket listener = Listen(planted);
            using SplitEmuProcess byPath = RunWithFolder(PrivateMonitorFolder(), "monitor", planted, "--exec", "info machine");

            Assert.Equal(ExitCodes.BadInput, byPath.ExitCode);
            Assert.Contains($"its folder {foreign} is owned by uid {owner}", byPath.StandardError, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(planted);
        }
    }

    private static string MonitorOk(string monitorName, string script)
    {
        using SplitEmuProcess monitor = SplitEmuProcess.Run("monitor", monitorName, "--exec", script);
        Assert.True(monitor.ExitCode == 0, $"monitor {monitorName} '{script}' exited {monitor.ExitCode}. stderr:\n{monitor.StandardError}");
        return monitor.StandardOutput;
    }

    private string PrivateMonitorFolder()
    {
        string folder = _scratch.File("monitor");
        MonitorFolder.Prepare(folder);
        return folder;
    }

    private static SplitEmuProcess RunWithFolder(string folder, params string[] arguments)
    {
        SplitEmuProcess process = SplitEmuProcess.StartWithEnvironment(new Dictionary<string, string> { [MonitorPaths.FolderVariable] = folder }, arguments);
        process.WaitForExit(SplitEmuProcess.DefaultTimeout);
        return process;
    }

    /// <summary>The pid of a process that has exited (and been reaped): no launcher has it.</summary>
    private static int DeadProcessId()
    {
        using Process process = Process.Start("/bin/true");
        process.WaitForExit();
        return process.Id;
    }

    private static Socket Listen(string path)
    {
        Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        socket.Listen(1);
        return socket;
    }
}
