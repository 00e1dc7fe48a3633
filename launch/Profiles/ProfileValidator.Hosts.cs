using SplitEmu.Shared.Profiles;

namespace SplitEmu.Launch.Profiles;

// The remote hosts (docs/remote-devices.md): names like device ids, strict ssh:// URLs, key files that exist here.
internal sealed partial class ProfileValidator
{
    /// <summary>Longest <c>splitemu</c> command a host entry may give.</summary>
    private const int MaxRemoteCommandLength = 4096;

    /// <summary>Checks <c>hosts</c>; returns the absolute paths of their key files, by host name and key.</summary>
    private Dictionary<(string Host, string Key), string> CheckHosts(IReadOnlyDictionary<string, HostConfig> hosts, string splitemuDirectory)
    {
        Dictionary<(string Host, string Key), string> files = [];
        if (hosts.Count > ProfileDefaults.MaxHosts)
        {
            Report("$.hosts", $"{hosts.Count} hosts; expected at most {ProfileDefaults.MaxHosts}");
        }

        foreach ((string name, HostConfig host) in hosts)
        {
            string path = JsonPath.Property("$.hosts", name);
            if (!IdPattern().IsMatch(name))
            {
                Report(path, $"'{name}' is not a valid host name; expected 1-64 letters, digits, '_' or '-', starting with a letter");
            }

            if (!_map.HasFailed(path + ".url") && !SshUrl.TryParse(host.Url, out _, out string problem))
            {
                Report(path + ".url", problem);
            }

            CheckHostFile(host.Identity, name, "identity", path, "private key", splitemuDirectory, files);
            CheckHostFile(host.KnownHosts, name, "knownHosts", path, "known_hosts file", splitemuDirectory, files);
            // Plain path characters only: then the remote login shell, whichever it is (sh, bash, fish...), reads it as one word.
            if (host.Splitemu.Length > MaxRemoteCommandLength || !RemoteCommandPattern().IsMatch(host.Splitemu))
            {
                Report(path + ".splitemu", $"'{Printable(host.Splitemu)}' is not a command; expected the path or name of splitemu on that host (1-{MaxRemoteCommandLength} of A-Z a-z 0-9 _ . / + -, not starting with '-')");
            }
        }

        return files;
    }

    private void CheckHostFile(string? written, string host, string key, string hostPath, string noun, string splitemuDirectory, Dictionary<(string Host, string Key), string> files)
    {
        string path = hostPath + "." + key;
        if (written is null || _map.HasFailed(path))
        {
            return;
        }

        if (ResolveFile(written, path, splitemuDirectory) is { } fullPath && FileLength(fullPath, path, written, noun, $"a {noun}") is not null)
        {
            // ssh expands '%' tokens and ${VARIABLES} in these paths, and a quote or backslash would end its quoting:
            // the file it opens must be the file validated here.
            if (fullPath.IndexOfAny(SshSpecialCharacters) >= 0)
            {
                Report(path, $"{noun} path {ProfilePaths.Display(fullPath, _workingDirectory)} holds one of {string.Join(' ', SshSpecialCharacters)}, which ssh would read as syntax; expected a path without them (move or link the file)");
                return;
            }

            files[(host, key)] = fullPath;
        }
    }

    /// <summary>Characters ssh reads as syntax in a key or known_hosts path.</summary>
    private static readonly char[] SshSpecialCharacters = ['%', '$', '"', '\\', '\''];

    private static string Printable(string text) => new([.. text.Select(c => char.IsControl(c) ? '?' : c)]);

    [System.Text.RegularExpressions.GeneratedRegex(@"\A[A-Za-z0-9_./+][A-Za-z0-9_./+-]*\z")]
    private static partial System.Text.RegularExpressions.Regex RemoteCommandPattern();
}
