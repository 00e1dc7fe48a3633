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
            if (host.Splitemu.Length is 0 or > MaxRemoteCommandLength || host.Splitemu.Any(char.IsControl))
            {
                Report(path + ".splitemu", $"'{host.Splitemu}' is not a command; expected the path or name of splitemu on that host (1-{MaxRemoteCommandLength} characters, no control characters)");
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
            files[(host, key)] = fullPath;
        }
    }
}
