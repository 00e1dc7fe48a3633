using System.Net.Sockets;
using SplitEmu.Launch.Host;

namespace SplitEmu.Launch.Monitor;

/// <summary>
/// Where monitor sockets live: one folder per user, one socket per run, named after the machine and the
/// launcher's pid (<c>NAME-PID.sock</c>, <see cref="MonitorSocketName"/>), so runs of the same name never
/// collide. The folder is <c>$SPLITEMU_MONITOR_DIR</c> if set, else <c>$XDG_RUNTIME_DIR/splitemu</c>, else
/// <c>/tmp/splitemu-monitor-USER</c>. Whichever it is, it must be ours alone (<see cref="MonitorFolder"/>):
/// a folder another user could reach is refused, by the server and by the client.
/// </summary>
public static class MonitorPaths
{
    /// <summary>Environment variable that overrides the folder.</summary>
    public const string FolderVariable = "SPLITEMU_MONITOR_DIR";

    /// <summary>Socket file extension.</summary>
    public const string Extension = ".sock";

    /// <summary>
    /// Age after which a socket file nobody listens on is certainly stale: a launcher binds and listens in one
    /// go, so only a killed one leaves a file that refuses connections for longer than a moment.
    /// </summary>
    private static readonly TimeSpan s_staleAge = TimeSpan.FromSeconds(10);

    /// <summary>How long a liveness probe may take to connect.</summary>
    private static readonly TimeSpan s_probeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The folder of monitor sockets (not created).</summary>
    public static string Folder
    {
        get
        {
            if (Environment.GetEnvironmentVariable(FolderVariable) is { Length: > 0 } explicitFolder)
            {
                return explicitFolder;
            }

            if (Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime && Directory.Exists(runtime))
            {
                return Path.Combine(runtime, "splitemu");
            }

            return Path.Combine(Path.GetTempPath(), "splitemu-monitor-" + Environment.UserName);
        }
    }

    /// <summary>The socket the run of <paramref name="machineName"/> by launcher <paramref name="launcherProcessId"/> listens on.</summary>
    public static string SocketFor(string machineName, int launcherProcessId) =>
        Path.Combine(Folder, new MonitorSocketName(machineName, launcherProcessId).FileName);

    /// <summary>The monitor name of a socket path (its file name without the extension: <c>NAME-PID</c>).</summary>
    public static string NameOf(string socketPath) => Path.GetFileNameWithoutExtension(socketPath);

    /// <summary>Every socket file in the folder (live or left by a killed launcher); none if the folder is missing or unsafe.</summary>
    public static IReadOnlyList<string> SocketFiles()
    {
        string folder = Folder;
        return Directory.Exists(folder) && MonitorFolder.ProblemWith(folder, UnixFileStatus.CurrentUserId) is null
            ? [.. Directory.EnumerateFiles(folder, "*" + Extension).Order(StringComparer.Ordinal)]
            : [];
    }

    /// <summary>Whether something accepts connections at <paramref name="socketPath"/>.</summary>
    public static bool IsLive(string socketPath)
    {
        using Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            using CancellationTokenSource timeout = new(s_probeTimeout);
            socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), timeout.Token).AsTask().GetAwaiter().GetResult();
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Removes socket files left by killed launchers: nothing listens on them, and the launcher named in the file
    /// is gone or the file is older than a moment (its pid was reused, or the name has no pid). The listening
    /// probe comes first in every case: a name that merely looks like NAME-PID (an older launcher's NAME-2.sock)
    /// is never removed while it is live.
    /// </summary>
    public static void SweepStale()
    {
        foreach (string path in SocketFiles())
        {
            try
            {
                bool launcherGone = MonitorSocketName.Parse(path) is { } name && !name.LauncherIsAlive();
                if ((launcherGone || DateTime.UtcNow - File.GetLastWriteTimeUtc(path) > s_staleAge) && !IsLive(path))
                {
                    File.Delete(path);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Another launcher is sweeping too.
            }
        }
    }

    /// <summary>
    /// Creates the folder if needed and binds a listening socket for this launcher's run of a machine called
    /// <paramref name="machineName"/>: <c>NAME-PID.sock</c>, PID being this process. A file of that name can only
    /// be left by an earlier process that had our pid, so it is replaced.
    /// </summary>
    /// <exception cref="UnsafeMonitorFolderException">The folder is not ours alone.</exception>
    /// <exception cref="IOException">The socket could not be bound.</exception>
    /// <exception cref="SocketException">The socket could not be bound.</exception>
    public static Socket Claim(string machineName, out string socketPath)
    {
        string folder = Folder;
        MonitorFolder.Prepare(folder); // other users cannot steer, spoof or deny our machines
        SweepStale();
        string path = SocketFor(machineName, Environment.ProcessId);
        // Bound and listening under a name no client looks for, then renamed into place: a client that finds the
        // socket's name never connects between bind and listen (which refuses it; a test saw that under load).
        string staging = Path.Combine(folder, $".{Environment.ProcessId}.binding"); // short: a socket path has 107 bytes
        File.Delete(staging);
        Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(staging));
            socket.Listen(8);
            File.Move(staging, path, overwrite: true);
            socketPath = path;
            return socket;
        }
        catch
        {
            socket.Dispose();
            File.Delete(staging);
            throw;
        }
    }
}
