using System.Net.Sockets;
using SplitEmu.Launch.Host;

namespace SplitEmu.Launch.Monitor;

/// <summary>
/// Where monitor sockets live: one folder per user, one socket per running machine, named after the machine
/// (<c>NAME.sock</c>; a second machine of the same name gets <c>NAME-2.sock</c>, and so on). The folder is
/// <c>$SPLITEMU_MONITOR_DIR</c> if set, else <c>$XDG_RUNTIME_DIR/splitemu</c>, else
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

    /// <summary>The socket a machine called <paramref name="monitorName"/> listens on.</summary>
    public static string SocketFor(string monitorName) => Path.Combine(Folder, monitorName + Extension);

    /// <summary>The monitor name of a socket path (its file name without the extension).</summary>
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

    /// <summary>Removes socket files left by killed launchers (not live, and older than a moment).</summary>
    public static void SweepStale()
    {
        foreach (string path in SocketFiles())
        {
            try
            {
                if (DateTime.UtcNow - File.GetLastWriteTimeUtc(path) > s_staleAge && !IsLive(path))
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
    /// Creates the folder if needed and binds a listening socket for a machine called <paramref name="machineName"/>:
    /// <c>NAME.sock</c>, or <c>NAME-2.sock</c>... if a live machine holds it. A socket file nobody listens on (its
    /// launcher was killed) is taken over.
    /// </summary>
    /// <exception cref="UnsafeMonitorFolderException">The folder is not ours alone.</exception>
    /// <exception cref="IOException">No socket could be bound.</exception>
    public static Socket Claim(string machineName, out string socketPath)
    {
        string folder = Folder;
        MonitorFolder.Prepare(folder); // other users cannot steer, spoof or deny our machines
        SweepStale();
        for (int n = 1; n <= 100; n++)
        {
            string path = Path.Combine(folder, (n == 1 ? machineName : $"{machineName}-{n}") + Extension);
            if (File.Exists(path))
            {
                if (IsLive(path))
                {
                    continue;
                }

                File.Delete(path); // left by a launcher that was killed
            }

            Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                socket.Bind(new UnixDomainSocketEndPoint(path));
                socket.Listen(8);
                socketPath = path;
                return socket;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                socket.Dispose(); // another launcher took it a moment ago
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw new IOException($"no free monitor socket for machine '{machineName}' in {folder}");
    }
}
