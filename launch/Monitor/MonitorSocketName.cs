using System.Globalization;

namespace SplitEmu.Launch.Monitor;

/// <summary>
/// The name of one run's monitor socket: the machine's name and the pid of the launcher that runs it,
/// <c>NAME-PID</c> (file <c>NAME-PID.sock</c>). The pid makes it unique per run, so two runs of profiles
/// with the same name never take each other's socket, and a socket whose launcher is gone is known stale
/// without connecting to it. The pid is always last, so a machine name that itself ends in <c>-digits</c>
/// still parses back.
/// </summary>
/// <param name="MachineName">The profile's <c>name</c>.</param>
/// <param name="LauncherProcessId">The pid of the `splitemu run` that listens on it.</param>
public readonly record struct MonitorSocketName(string MachineName, int LauncherProcessId)
{
    /// <summary>What `splitemu monitor` calls this run: <c>NAME-PID</c>.</summary>
    public string MonitorName => MachineName + "-" + LauncherProcessId.ToString(CultureInfo.InvariantCulture);

    /// <summary>The socket's file name.</summary>
    public string FileName => MonitorName + MonitorPaths.Extension;

    /// <summary>The name of the socket at <paramref name="socketPath"/>, or null if it is not <c>NAME-PID.sock</c>.</summary>
    public static MonitorSocketName? Parse(string socketPath)
    {
        string file = Path.GetFileName(socketPath);
        if (!file.EndsWith(MonitorPaths.Extension, StringComparison.Ordinal))
        {
            return null;
        }

        string monitorName = file[..^MonitorPaths.Extension.Length];
        int dash = monitorName.LastIndexOf('-');
        return dash > 0
            && int.TryParse(monitorName.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
            && pid > 0
            ? new MonitorSocketName(monitorName[..dash], pid)
            : null;
    }

    /// <summary>Whether the launcher that made this socket still runs (a pid reused by another process counts as running).</summary>
    public bool LauncherIsAlive() => ProcessIsAlive(LauncherProcessId);

    /// <inheritdoc/>
    public override string ToString() => MonitorName;

    private static bool ProcessIsAlive(int pid)
    {
        // /proc/PID exists for a live process and for a zombie not yet reaped; neither is a stale socket's owner
        // for long. Where there is no /proc, assume alive and let the connection probe decide.
        return !Directory.Exists("/proc/self") || Directory.Exists("/proc/" + pid.ToString(CultureInfo.InvariantCulture));
    }
}
