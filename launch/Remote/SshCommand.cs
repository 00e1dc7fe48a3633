using System.Diagnostics;
using System.Globalization;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.Launch.Remote;

/// <summary>
/// How the launcher reaches a remote host: the system's OpenSSH client, with the user's keys and known_hosts (or the
/// profile's), never a password or passphrase prompt (<c>BatchMode</c>) and never an unknown or changed host key
/// accepted (<c>StrictHostKeyChecking=yes</c>). The remote command is one <c>splitemu</c> invocation, quoted for the
/// remote login shell, so nothing of a profile is ever run as shell syntax there.
/// </summary>
public static class SshCommand
{
    /// <summary>The ssh client the launcher runs (found on PATH).</summary>
    public const string Program = "ssh";

    /// <summary>ssh's exit code for its own errors (connection, authentication, host key), as opposed to the remote command's.</summary>
    public const int SshFailed = 255;

    /// <summary>
    /// When set, the ssh configuration file splitemu's ssh reads instead of the user's (<c>-F</c>; <c>none</c>: none at
    /// all), for tests that must not depend on a developer's ~/.ssh/config, and for users who keep one for splitemu.
    /// </summary>
    public const string ConfigVariable = "SPLITEMU_SSH_CONFIG";

    /// <summary>
    /// The start info of <c>ssh</c> running <c>splitemu</c> with <paramref name="arguments"/> on <paramref name="host"/>
    /// (<paramref name="url"/> parsed from it), giving up on connecting after <paramref name="connectTimeout"/>.
    /// </summary>
    public static ProcessStartInfo StartInfo(HostConfig host, SshUrl url, IEnumerable<string> arguments, TimeSpan connectTimeout)
    {
        ProcessStartInfo start = new(Program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in Options(host, url, connectTimeout))
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("--");
        start.ArgumentList.Add(url.Destination);
        start.ArgumentList.Add(RemoteCommand(host.Splitemu, arguments));
        return start;
    }

    /// <summary>The ssh options for <paramref name="host"/>: batch mode, strict host keys, its port, key and known_hosts.</summary>
    public static IReadOnlyList<string> Options(HostConfig host, SshUrl url, TimeSpan connectTimeout)
    {
        List<string> options =
        [
            "-T", // no terminal: the remote side speaks a protocol, not to a person
            // The host is not trusted: whatever the user's ssh configuration says, it gets no agent, no X11, no port
            // forwardings, no shared master connection that could outlive this process, and runs no local command.
            "-a", "-x",
            "-o", "ForwardAgent=no",
            "-o", "ForwardX11=no",
            "-o", "ClearAllForwardings=yes",
            "-o", "ControlMaster=no",
            "-o", "ControlPath=none",
            "-o", "PermitLocalCommand=no",
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", $"ConnectTimeout={Math.Max(1, (int)Math.Ceiling(connectTimeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture)}",
            "-o", "LogLevel=ERROR", // ssh's own warnings would read as the remote command's errors
            "-o", "ServerAliveInterval=5", // a host that went silent is given up within ~15 s, never waited for forever
            "-o", "ServerAliveCountMax=3",
            "-p", url.Port.ToString(CultureInfo.InvariantCulture),
        ];
        if (Environment.GetEnvironmentVariable(ConfigVariable) is { Length: > 0 } config)
        {
            options.InsertRange(0, ["-F", config]);
        }

        if (host.Identity is { } identity)
        {
            options.AddRange(["-i", identity, "-o", "IdentitiesOnly=yes"]);
        }

        if (host.KnownHosts is { } knownHosts)
        {
            options.AddRange(["-o", $"UserKnownHostsFile=\"{knownHosts}\""]);
        }

        return options;
    }

    /// <summary>The command line the remote login shell runs: <paramref name="splitemu"/> and <paramref name="arguments"/>, each quoted.</summary>
    public static string RemoteCommand(string splitemu, IEnumerable<string> arguments) =>
        string.Join(' ', new[] { splitemu }.Concat(arguments).Select(ShellQuote));

    /// <summary>One word for a POSIX shell, whatever it holds: single quotes, with each single quote closed, escaped and reopened.</summary>
    public static string ShellQuote(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
