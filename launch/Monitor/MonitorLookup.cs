namespace SplitEmu.Launch.Monitor;

/// <summary>
/// Finds the socket `splitemu monitor MACHINE` means. MACHINE is a socket's path (anything with a '/' or ending
/// in .sock), a run's monitor name (<c>NAME-PID</c>), or a machine name that exactly one running launcher
/// serves. Two runs of the same name are never guessed between: the error lists them so the user can pick one.
/// </summary>
public static class MonitorLookup
{
    /// <summary>Whether <paramref name="machine"/> is written as a path rather than a name.</summary>
    public static bool IsPath(string machine) =>
        machine.Contains('/', StringComparison.Ordinal) || machine.EndsWith(MonitorPaths.Extension, StringComparison.Ordinal);

    /// <summary>The socket path <paramref name="machine"/> names.</summary>
    /// <exception cref="MonitorUnavailableException">
    /// The folder is not ours alone, no running machine has that name, or several do (the message lists them).
    /// </exception>
    public static string Resolve(string machine)
    {
        if (IsPath(machine))
        {
            return Path.GetFullPath(machine);
        }

        string folder = MonitorPaths.Folder;
        if (Directory.Exists(folder))
        {
            try
            {
                MonitorFolder.Verify(folder); // a socket in a folder others control may not be our machine
            }
            catch (UnsafeMonitorFolderException ex)
            {
                throw new MonitorUnavailableException(ex.Message);
            }
        }

        MonitorSocketName[] sockets = [.. Sockets()];
        if (sockets.Any(s => s.MonitorName == machine))
        {
            return Path.Combine(folder, machine + MonitorPaths.Extension);
        }

        MonitorSocketName[] named = [.. sockets.Where(s => s.MachineName == machine && s.LauncherIsAlive())];
        return named.Length switch
        {
            1 => Path.Combine(folder, named[0].FileName),
            0 => throw new MonitorUnavailableException($"no machine named '{machine}' is running. {DescribeRunning(sockets)}"),
            _ => throw new MonitorUnavailableException(
                $"{named.Length} running machines are named '{machine}': {string.Join(", ", named.Select(Describe))}; " +
                $"name one, e.g. splitemu monitor {named[0].MonitorName}"),
        };
    }

    /// <summary>The monitor names of the runs whose launcher is alive, for completion and for messages.</summary>
    public static IReadOnlyList<string> RunningMonitorNames() =>
        [.. Sockets().Where(s => s.LauncherIsAlive()).Select(s => s.MonitorName)];

    /// <summary>
    /// Every run's socket in the folder, including ones another user planted: resolving those too means the
    /// connection is refused with the reason (<see cref="MonitorSocketOwnership"/>) rather than said not to exist.
    /// </summary>
    private static IEnumerable<MonitorSocketName> Sockets() =>
        MonitorPaths.SocketFiles().Select(MonitorSocketName.Parse).OfType<MonitorSocketName>();

    private static string Describe(MonitorSocketName socket) => $"{socket.MonitorName} (launcher pid {socket.LauncherProcessId})";

    private static string DescribeRunning(IEnumerable<MonitorSocketName> sockets)
    {
        string[] running = [.. sockets.Where(s => s.LauncherIsAlive()).Select(Describe)];
        return running.Length == 0
            ? $"No machine is running (monitor sockets live in {MonitorPaths.Folder})."
            : "Running: " + string.Join(", ", running) + ".";
    }
}
