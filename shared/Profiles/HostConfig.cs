namespace SplitEmu.Shared.Profiles;

/// <summary>
/// A machine device processes may run on, reached with the system's OpenSSH client (docs/remote-devices.md): never a
/// password prompt (BatchMode), never an unknown host key accepted.
/// </summary>
public sealed record HostConfig
{
    /// <summary>Where it is: <c>ssh://[user@]host[:port]</c> (see <see cref="SshUrl"/>).</summary>
    public string Url { get; init; } = "";

    /// <summary>The private key ssh offers (<c>-i</c>, and only that key), absolute once loaded; null: ssh's own choice (agent, ~/.ssh).</summary>
    public string? Identity { get; init; }

    /// <summary>The known_hosts file the host's key must be in, absolute once loaded; null: the user's own (~/.ssh/known_hosts).</summary>
    public string? KnownHosts { get; init; }

    /// <summary>The <c>splitemu</c> command on that host (a path, or a name its login shell finds on PATH).</summary>
    public string Splitemu { get; init; } = ProfileDefaults.RemoteSplitemu;
}
