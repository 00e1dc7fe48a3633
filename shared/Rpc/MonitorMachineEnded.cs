namespace SplitEmu.Shared.Rpc;

/// <summary>
/// How the machine behind a monitor ended. The monitor sends it to every connected client as a JSON-RPC
/// notification (<see cref="MethodName"/>) as soon as the launcher knows the exit code, before it stops the
/// processes and closes the socket: an attached client learns at once that the machine ended, and why,
/// instead of finding a closed connection at its next command.
/// </summary>
public sealed record MonitorMachineEnded
{
    /// <summary>The notification's JSON-RPC method name.</summary>
    public const string MethodName = "machineEnded";

    /// <summary>Why it ended, as the run report says it (<c>guest-exit</c>, <c>stopped</c>, <c>timeout</c>...).</summary>
    public required string Reason { get; init; }

    /// <summary>The exit code `splitemu run` exits with (<see cref="ExitCodes"/>).</summary>
    public int ExitCode { get; init; }

    /// <summary>More about it ("stopped by monitor quit"), or null.</summary>
    public string? Detail { get; init; }

    /// <summary>In words: <c>stopped, exit code 130 (stopped by monitor quit)</c>.</summary>
    public string Describe() => $"{Reason}, exit code {ExitCode}{(Detail is null ? "" : $" ({Detail})")}";
}
