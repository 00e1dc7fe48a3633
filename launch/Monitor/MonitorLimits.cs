using System.Globalization;

namespace SplitEmu.Launch.Monitor;

/// <summary>
/// What one machine's monitor grants its clients. Every client holds a file descriptor and buffers of the
/// launcher, so without limits a script that leaks connections (or a request that never ends) exhausts the
/// launcher's file descriptors or memory and takes the machine down. The numbers are in docs/monitor.md.
/// </summary>
/// <param name="MaxClients">Clients connected at once; one more is closed at once.</param>
/// <param name="IdleTimeout">A client that completes no request for this long is closed.</param>
/// <param name="MaxRequestBytes">Largest request (headers and body); a longer one closes its client.</param>
public sealed record MonitorLimits(int MaxClients, TimeSpan IdleTimeout, int MaxRequestBytes)
{
    /// <summary>Internal: replaces the idle timeout (milliseconds), so tests need not wait a minute.</summary>
    public const string IdleTimeoutVariable = "SPLITEMU_MONITOR_IDLE_TIMEOUT_MS";

    /// <summary>The limits of every machine.</summary>
    public static MonitorLimits Default { get; } = new(MaxClients: 16, IdleTimeout: TimeSpan.FromSeconds(60), MaxRequestBytes: 64 * 1024);

    /// <summary><see cref="Default"/>, with the idle timeout of <see cref="IdleTimeoutVariable"/> when that is set.</summary>
    public static MonitorLimits FromEnvironment() =>
        int.TryParse(Environment.GetEnvironmentVariable(IdleTimeoutVariable), NumberStyles.None, CultureInfo.InvariantCulture, out int ms) && ms > 0
            ? Default with { IdleTimeout = TimeSpan.FromMilliseconds(ms) }
            : Default;
}
