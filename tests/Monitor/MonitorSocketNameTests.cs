using System.Net.Sockets;
using SplitEmu.Launch.Host;
using SplitEmu.Launch.Monitor;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Monitor;

/// <summary>
/// A run's monitor socket is NAME-PID.sock, and a client attaches only to a socket (and folder) of its own user.
/// No processes: the fast tier.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class MonitorSocketNameTests : IDisposable
{
    private readonly TempFolder _scratch = new();

    /// <inheritdoc/>
    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void SocketName_OfAMachineWhoseNameEndsInDigits_ParsesBackToNameAndPid()
    {
        MonitorSocketName name = new("web-2", 4567);

        MonitorSocketName? parsed = MonitorSocketName.Parse("/run/user/1000/splitemu/" + name.FileName);

        Assert.Equal("web-2-4567.sock", name.FileName);
        Assert.Equal(name, parsed);
    }

    [Fact]
    public void SocketName_WithoutAPid_IsNotARunsSocket()
    {
        Assert.Null(MonitorSocketName.Parse("default.sock"));
        Assert.Null(MonitorSocketName.Parse("default-.sock"));
        Assert.Null(MonitorSocketName.Parse("default-12.json"));
    }

    [Fact]
    public void Ownership_OfOurOwnSocketInOurFolder_IsFine()
    {
        using Socket listener = Listen(_scratch.File("m-1.sock"));

        Assert.Null(MonitorSocketOwnership.ProblemWith(_scratch.File("m-1.sock"), UnixFileStatus.CurrentUserId));
    }

    [Fact]
    public void Ownership_ForAnotherUser_IsRefused_NamingTheOwner()
    {
        string path = _scratch.File("m-1.sock");
        using Socket listener = Listen(path);
        uint someoneElse = UnixFileStatus.CurrentUserId + 1;

        string? problem = MonitorSocketOwnership.ProblemWith(path, someoneElse);

        Assert.Equal($"{path} is owned by uid {UnixFileStatus.CurrentUserId}, not by you (uid {someoneElse}): it is not your machine", problem);
    }

    [Fact]
    public void Ownership_OfARegularFile_IsRefused()
    {
        string path = _scratch.File("m-1.sock");
        File.WriteAllText(path, "");

        Assert.Equal($"{path} is a regular file, not a socket", MonitorSocketOwnership.ProblemWith(path, UnixFileStatus.CurrentUserId));
    }

    [Fact]
    public void Ownership_OfOurSocketInAFolderOfAnotherUser_IsRefused_NamingTheFolder()
    {
        (string folder, uint owner) = FileOwner.ForeignFolder(_scratch);
        string path = Path.Combine(folder, $"splitemu-test-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
        try
        {
            using Socket listener = Listen(path);

            string? problem = MonitorSocketOwnership.ProblemWith(path, UnixFileStatus.CurrentUserId);

            Assert.Equal($"its folder {folder} is owned by uid {owner}, not by you (uid {UnixFileStatus.CurrentUserId}): its owner could have put the socket there", problem);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static Socket Listen(string path)
    {
        Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        socket.Listen(1);
        return socket;
    }
}
