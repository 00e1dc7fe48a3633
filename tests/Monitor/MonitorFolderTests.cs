using System.Net.Sockets;
using SplitEmu.Launch.Host;
using SplitEmu.Launch.Monitor;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Monitor;

/// <summary>
/// The monitor socket's folder must be ours alone, and only our user may talk to a monitor: a folder another
/// user could reach (wrong mode, a symbolic link) is refused with the reason, never used.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class MonitorFolderTests : IDisposable
{
    /// <summary>Bound for a launcher to start and say that it runs without a monitor.</summary>
    private static readonly TimeSpan s_startTimeout = TestDeadlines.Seconds(45);

    private readonly TempFolder _scratch = new();

    /// <inheritdoc/>
    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void MissingFolder_IsCreatedWithMode0700()
    {
        string folder = _scratch.File("monitor");

        MonitorFolder.Prepare(folder);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
    }

    [Fact]
    public void PreCreatedFolderWithWrongMode_IsRefused_NamingTheModeAndTheFolder()
    {
        string folder = _scratch.File("monitor");
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, (UnixFileMode)0b111_111_111); // 0777, as under umask 000

        UnsafeMonitorFolderException refused = Assert.Throws<UnsafeMonitorFolderException>(() => MonitorFolder.Prepare(folder));

        Assert.Contains($"refusing the monitor folder {folder}: its mode is 0777", refused.Message, StringComparison.Ordinal);
        Assert.Equal((UnixFileMode)0b111_111_111, File.GetUnixFileMode(folder)); // left as it was, not repaired
    }

    [Fact]
    public void SymbolicLinkToAPrivateFolder_IsRefused()
    {
        string target = _scratch.File("real");
        Directory.CreateDirectory(target, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string link = _scratch.File("monitor");
        Directory.CreateSymbolicLink(link, target);

        UnsafeMonitorFolderException refused = Assert.Throws<UnsafeMonitorFolderException>(() => MonitorFolder.Prepare(link));

        Assert.Contains("it is a symbolic link", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FolderOwnedBySomeoneElse_IsRefused()
    {
        string folder = _scratch.File("monitor");
        Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        uint someoneElse = UnixFileStatus.CurrentUserId + 1;

        string? problem = MonitorFolder.ProblemWith(folder, someoneElse);

        Assert.Equal($"it is owned by uid {UnixFileStatus.CurrentUserId}, not by you (uid {someoneElse})", problem);
    }

    [Fact]
    public void Launcher_GivenAFolderWithWrongMode_RunsWithoutAMonitor_AndBindsNothingThere()
    {
        string folder = _scratch.File("monitor");
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, (UnixFileMode)0b111_111_111);
        string profile = TestMachines.WriteProfile(_scratch, TestMachines.SpinForever);

        using SplitEmuProcess run = SplitEmuProcess.StartWithEnvironment(
            new Dictionary<string, string> { [MonitorPaths.FolderVariable] = folder },
            "run", profile, "--set", $"name={MonitoredMachine.UniqueName()}");
        bool said = ProcessTable.WaitUntil(() => run.StandardError.Contains("runs without a monitor", StringComparison.Ordinal), s_startTimeout);

        Assert.True(said, $"the launcher must say it runs without a monitor. stderr:\n{run.StandardError}");
        Assert.Contains($"refusing the monitor folder {folder}: its mode is 0777", run.StandardError, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
    }

    [Fact]
    public void PeerOfAnotherUser_IsRefused_WithItsUidAndPid()
    {
        PeerCredentials stranger = new(ProcessId: 4321, UserId: 1001, GroupId: 1001);

        Assert.Equal(
            "refused a monitor connection from uid 1001 (pid 4321): only uid 1000, who runs this machine, may use its monitor",
            stranger.RefusalBy(1000));
        Assert.Null(stranger.RefusalBy(1001));
    }

    [Fact]
    public void PeerCredentials_OfARealConnection_AreThisProcessAndUser()
    {
        string path = _scratch.File("peer.sock");
        using Socket listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        using Socket client = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(path));
        using Socket accepted = listener.Accept();

        PeerCredentials peer = PeerCredentials.Of(accepted);

        Assert.Equal((Environment.ProcessId, UnixFileStatus.CurrentUserId), (peer.ProcessId, peer.UserId));
        Assert.Null(peer.RefusalBy(UnixFileStatus.CurrentUserId));
    }
}
