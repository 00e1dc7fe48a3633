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

    /// <summary>
    /// Checks each device's <c>host</c> and <c>failover</c>: names of <paramref name="hosts"/>, only for a device in a
    /// process of its own or a group's, and the same for every device of one process (they share it).
    /// </summary>
    private void CheckDeviceHosts(IReadOnlyList<DeviceConfig> devices, IReadOnlyDictionary<string, HostConfig> hosts)
    {
        Dictionary<string, (DeviceConfig Device, int Index)> firstOfProcess = new(StringComparer.Ordinal);
        for (int i = 0; i < devices.Count; i++)
        {
            DeviceConfig device = devices[i];
            string path = $"$.devices[{i}]";
            if (device.Placement == Placement.Inline && (device.Host is not null || device.Failover.Count > 0))
            {
                Report(path + (device.Host is not null ? ".host" : ".failover"), "an inline device runs in the CPU process, on this machine; expected placement isolated or group for a device on another host");
                continue;
            }

            if (device.Host is { } host)
            {
                CheckHostName(host, path + ".host", hosts);
            }
            else if (device.Failover.Count > 0)
            {
                Report(path + ".failover", "failover is used only with host (the hosts to move to after it); set host or remove failover");
            }

            HashSet<string> seen = device.Host is null ? [] : [device.Host];
            for (int f = 0; f < device.Failover.Count; f++)
            {
                string itemPath = JsonPath.Index(path + ".failover", f);
                if (!seen.Add(device.Failover[f]))
                {
                    Report(itemPath, $"host '{device.Failover[f]}' is already {(device.Failover[f] == device.Host ? "the device's host" : "in the list")}; expected each host once");
                }
                else
                {
                    CheckHostName(device.Failover[f], itemPath, hosts);
                }
            }

            // The devices of one process run where the process runs: all of them say the same, or one would be overruled.
            if (DevicePlacement.ProcessKey(device) is not { } process)
            {
                continue;
            }

            if (!firstOfProcess.TryGetValue(process, out var first))
            {
                firstOfProcess[process] = (device, i);
            }
            else if (first.Device.Host != device.Host || !first.Device.Failover.SequenceEqual(device.Failover))
            {
                // Named where the two differ: the host if it does, else the failover list.
                Report(path + (first.Device.Host != device.Host ? ".host" : ".failover"), $"device '{device.Id}' runs on {Where(device)} but '{first.Device.Id}', the first of process group '{device.Group}', runs on {Where(first.Device)}; the devices of one process share its host and failover: give each the same");
            }
        }
    }

    private static string Where(DeviceConfig device) =>
        (device.Host is null ? "this machine" : $"host '{device.Host}'") + (device.Failover.Count > 0 ? $" (failover {string.Join(", ", device.Failover)})" : "");

    private void CheckHostName(string name, string path, IReadOnlyDictionary<string, HostConfig> hosts)
    {
        if (!hosts.ContainsKey(name))
        {
            Report(path, hosts.Count == 0
                ? $"no host named '{name}': the profile has no hosts; expected a name defined in \"hosts\""
                : $"no host named '{name}'; expected one of: {string.Join(", ", hosts.Keys)}");
        }
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
