using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Remote;

/// <summary>
/// A "remote" machine for tests: a network namespace joined to this one by a veth pair, with Debian's OpenSSH server
/// listening inside on an address only this test run uses, host and client keys made for the run, and a known_hosts
/// file that holds the host's key. Everything is removed on dispose, and the namespaces of test runs that died are
/// removed by the next one; nothing outside the namespaces the tests made is ever contacted.
/// </summary>
public sealed class SshTestHost : IDisposable
{
    /// <summary>Namespace names start with this, then the test process's id (see <see cref="SweepNamespacesOfDeadRuns"/>).</summary>
    private const string NamespacePrefix = "splitemu-t";

    private const string Sshd = "/usr/sbin/sshd";

    private static int s_instances;

    private readonly TempFolder _folder = new();
    private readonly string _namespace;
    private readonly string _outerLink;
    private readonly StringBuilder _sshdLog = new();
    private Process? _sshd;

    /// <summary>Starts a host; the second and later hosts of a test process get their own namespace and addresses.</summary>
    /// <exception cref="InvalidOperationException">The namespace or the server could not be set up (the reason is in the message).</exception>
    public SshTestHost()
    {
        SweepNamespacesOfDeadRuns();
        int instance = Interlocked.Increment(ref s_instances);
        int pid = Environment.ProcessId;
        _namespace = $"{NamespacePrefix}{pid}-{instance}";
        _outerLink = $"{LinkPrefix(pid)}{instance}"; // at most 15 characters
        string innerLink = _outerLink + "p";
        try
        {
            (LocalAddress, Address) = FreeSubnet(pid * 4 + instance);
            Root("ip", "netns", "add", _namespace);
            Root("ip", "link", "add", _outerLink, "type", "veth", "peer", "name", innerLink);
            Root("ip", "link", "set", innerLink, "netns", _namespace);
            Root("ip", "addr", "add", LocalAddress + "/30", "dev", _outerLink);
            Root("ip", "link", "set", _outerLink, "up");
            Root("ip", "netns", "exec", _namespace, "ip", "addr", "add", Address + "/30", "dev", innerLink);
            Root("ip", "netns", "exec", _namespace, "ip", "link", "set", innerLink, "up");
            Root("ip", "netns", "exec", _namespace, "ip", "link", "set", "lo", "up");
            StartServer();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The server's address (inside the namespace).</summary>
    public string Address { get; } = "";

    /// <summary>This side's address on the veth pair.</summary>
    public string LocalAddress { get; } = "";

    /// <summary>The server's port.</summary>
    public int Port { get; } = 2222;

    /// <summary>The private key the server accepts (for this user).</summary>
    public string IdentityFile => _folder.File("client_key");

    /// <summary>A known_hosts file holding the server's host key.</summary>
    public string KnownHostsFile => _folder.File("known_hosts");

    /// <summary>A known_hosts file that does not know the server.</summary>
    public string StrangerKnownHostsFile => _folder.File("known_hosts_without_it");

    /// <summary>The user the tests log in as: the one running them.</summary>
    public static string User => Environment.UserName;

    /// <summary>This host's URL as a profile writes it.</summary>
    public string Url => $"ssh://{User}@{Address}:{Port}";

    /// <summary>
    /// This host as a profile's <c>hosts</c> entry: its URL and client key, <paramref name="knownHosts"/> (the file that
    /// knows its key unless said) and <paramref name="splitemu"/> (this build unless said).
    /// </summary>
    public JsonObject Entry(string? knownHosts = null, string? splitemu = null) => new()
    {
        ["url"] = Url,
        ["identity"] = IdentityFile,
        ["knownHosts"] = knownHosts ?? KnownHostsFile,
        ["splitemu"] = splitemu ?? Path.Combine(AppContext.BaseDirectory, "splitemu"),
    };

    /// <summary>Writes a profile that is the shipped default machine with <paramref name="hosts"/> (name → entry); returns its path.</summary>
    public string WriteHostsProfile(JsonObject hosts)
    {
        JsonObject profile = new()
        {
            ["schemaVersion"] = 1,
            ["extends"] = Path.Combine(AppContext.BaseDirectory, "profiles", "default.json"),
            ["hosts"] = hosts,
        };
        string path = _folder.File($"hosts-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, profile.ToJsonString());
        return path;
    }

    /// <summary>A scratch folder that lives as long as the host.</summary>
    public TempFolder Folder => _folder;

    /// <summary>What the server logged (for failure messages).</summary>
    public string ServerLog
    {
        get
        {
            lock (_sshdLog)
            {
                return _sshdLog.ToString();
            }
        }
    }

    private void StartServer()
    {
        Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "splitemu-test-host", "-f", _folder.File("host_key"));
        Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "splitemu-test-client", "-f", IdentityFile);
        File.Copy(IdentityFile + ".pub", _folder.File("authorized_keys"));
        string[] hostKey = File.ReadAllText(_folder.File("host_key.pub")).Split(' ');
        File.WriteAllText(KnownHostsFile, $"[{Address}]:{Port} {hostKey[0]} {hostKey[1]}\n");
        File.WriteAllText(StrangerKnownHostsFile, "");
        File.WriteAllText(_folder.File("sshd_config"), string.Join('\n',
            $"Port {Port}",
            $"ListenAddress {Address}",
            $"HostKey {_folder.File("host_key")}",
            $"AuthorizedKeysFile {_folder.File("authorized_keys")}",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no", // the keys live in a temporary folder of the test run
            "PermitRootLogin prohibit-password",
            $"PidFile {_folder.File("sshd.pid")}",
            ""));
        Directory.CreateDirectory("/run/sshd"); // its privilege separation folder, which Debian's package makes at boot

        ProcessStartInfo start = RootStartInfo("ip", "netns", "exec", _namespace, Sshd, "-D", "-e", "-f", _folder.File("sshd_config"));
        start.RedirectStandardError = true;
        start.RedirectStandardOutput = true;
        _sshd = Process.Start(start) ?? throw new InvalidOperationException("sshd did not start");
        _sshd.ErrorDataReceived += (_, e) => { lock (_sshdLog) { _sshdLog.AppendLine(e.Data); } };
        _sshd.OutputDataReceived += (_, e) => { lock (_sshdLog) { _sshdLog.AppendLine(e.Data); } };
        _sshd.BeginErrorReadLine();
        _sshd.BeginOutputReadLine();

        Stopwatch waited = Stopwatch.StartNew();
        TimeSpan deadline = TestDeadlines.Seconds(15);
        while (!Listening())
        {
            if (_sshd.HasExited || waited.Elapsed > deadline)
            {
                throw new InvalidOperationException($"sshd is not listening on {Address}:{Port} after {waited.Elapsed.TotalSeconds:0.#} s (exited: {_sshd.HasExited}); its log:\n{ServerLog}");
            }

            Thread.Sleep(20);
        }
    }

    /// <summary>Names of the links a test process makes start with this (see <see cref="SweepNamespacesOfDeadRuns"/>).</summary>
    private static string LinkPrefix(int pid) => $"se{pid % 1_000_000}x";

    /// <summary>
    /// A /30 of 198.18.0.0/15 (set aside for benchmarking networks, RFC 2544, so never a real network's) that no
    /// interface of this machine uses yet, starting from <paramref name="seed"/>: concurrent test runs do not meet.
    /// </summary>
    private static (string Local, string Remote) FreeSubnet(int seed)
    {
        (_, string used, _) = Execute(new ProcessStartInfo("ip", "-o -4 addr show"));
        for (int attempt = 0; attempt < 64; attempt++)
        {
            int first = ((seed + attempt * 7919) % 32768) * 4; // offset of the /30 in the /15
            string prefix = $"198.{18 + (first >> 16)}.{(first >> 8) & 255}.";
            string local = prefix + ((first & 255) + 1).ToString(CultureInfo.InvariantCulture);
            string remote = prefix + ((first & 255) + 2).ToString(CultureInfo.InvariantCulture);
            if (!used.Contains($" {local}/", StringComparison.Ordinal) && !used.Contains($" {remote}/", StringComparison.Ordinal))
            {
                return (local, remote);
            }
        }

        throw new InvalidOperationException("no free /30 in 198.18.0.0/15 for a test host");
    }

    private bool Listening()
    {
        try
        {
            using TcpClient client = new();
            return client.ConnectAsync(Address, Port).Wait(TimeSpan.FromMilliseconds(200)) && client.Connected;
        }
        catch (AggregateException)
        {
            return false;
        }
    }

    /// <summary>
    /// Drops <paramref name="percent"/> % of the packets the host receives and of those it sends, at random (nftables'
    /// numgen in the host's namespace: this kernel has no netem), or none (null).
    /// </summary>
    public void DropPackets(int? percent)
    {
        string[] nft = ["ip", "netns", "exec", _namespace, "nft"];
        TryRoot(nft[0], [.. nft[1..], "delete", "table", "inet", "splitemu_loss"]);
        if (percent is not int p)
        {
            return;
        }

        string rate = p.ToString(CultureInfo.InvariantCulture);
        Root(nft[0], [.. nft[1..], "add", "table", "inet", "splitemu_loss"]);
        foreach (string hook in new[] { "input", "output" })
        {
            Root(nft[0], [.. nft[1..], "add", "chain", "inet", "splitemu_loss", hook, "{", "type", "filter", "hook", hook, "priority", "0", ";", "}"]);
            Root(nft[0], [.. nft[1..], "add", "rule", "inet", "splitemu_loss", hook, "numgen", "random", "mod", "100", "<", rate, "drop"]);
        }
    }

    /// <summary>Takes the link to the host down (a network partition) or up again.</summary>
    public void SetLink(bool up) => Root("ip", "link", "set", _outerLink, up ? "up" : "down");

    /// <summary>
    /// The processes in the host's namespace other than the listening server: ssh sessions and what they run. Empty
    /// once every session has ended.
    /// </summary>
    public IReadOnlyList<string> SessionProcesses()
    {
        List<string> sessions = [];
        foreach (string pid in ProcessesIn(_namespace))
        {
            string commandLine;
            try
            {
                commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
            }
            catch (IOException)
            {
                continue; // it ended meanwhile
            }

            // The listener names itself "sshd: /usr/sbin/sshd -D ... [listener] ..." once it runs.
            bool listener = commandLine.StartsWith(Sshd + " -D", StringComparison.Ordinal) || commandLine.Contains(" [listener]", StringComparison.Ordinal);
            if (!listener && commandLine.Length > 0)
            {
                sessions.Add($"{pid}: {commandLine}");
            }
        }

        return sessions;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        try
        {
            DeleteNamespace(_namespace, _outerLink); // kills the server and the sessions inside it first, as root
            if (_sshd is { } sshd)
            {
                sshd.WaitForExit(TestDeadlines.Seconds(10)); // its wrapper (sudo, or ip netns exec) ends with it
                sshd.Dispose();
                _sshd = null;
            }
        }
        finally
        {
            _folder.Dispose(); // the client's private key goes, whatever happened above
        }
    }

    /// <summary>
    /// Removes a namespace: first every process in it (the server, its sessions: they would keep it alive without a
    /// name), then the name (which takes its end of the veth pair, and so the pair), then our end if still there.
    /// </summary>
    private static void DeleteNamespace(string name, string? outerLink)
    {
        foreach (string pid in ProcessesIn(name))
        {
            TryRoot("kill", "-9", pid);
        }

        TryRoot("ip", "netns", "del", name);
        if (outerLink is not null)
        {
            TryRoot("ip", "link", "del", outerLink);
        }
    }

    /// <summary>The ids of the processes in namespace <paramref name="name"/> (none when it is gone).</summary>
    private static string[] ProcessesIn(string name)
    {
        (int code, string pids, _) = Execute(RootStartInfo("ip", "netns", "pids", name));
        return code == 0 ? pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
    }

    /// <summary>Removes the namespaces of test processes that no longer run (they could not clean up after themselves).</summary>
    private static void SweepNamespacesOfDeadRuns()
    {
        (int code, string output, _) = Execute(RootStartInfo("ip", "netns", "list"));
        if (code != 0)
        {
            return;
        }

        foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string name = line.Split(' ')[0];
            if (name.StartsWith(NamespacePrefix, StringComparison.Ordinal)
                && int.TryParse(name[NamespacePrefix.Length..].Split('-')[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                DeleteNamespace(name, outerLink: null);
                (_, string links, _) = Execute(new ProcessStartInfo("ip", "-o link show"));
                foreach (string link in links.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                    .Select(l => l.Split(':', 3) is [_, string linkName, _] ? linkName.Trim().Split('@')[0] : "")
                    .Where(l => l.StartsWith(LinkPrefix(pid), StringComparison.Ordinal)))
                {
                    TryRoot("ip", "link", "del", link);
                }
            }
        }
    }

    /// <summary>Runs a command that needs root: directly as root, else through passwordless sudo.</summary>
    private static void Root(string program, params string[] arguments) => Check(RootStartInfo(program, arguments));

    private static void TryRoot(string program, params string[] arguments) => Execute(RootStartInfo(program, arguments));

    private static void Run(string program, params string[] arguments)
    {
        ProcessStartInfo start = new(program);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Check(start);
    }

    private static ProcessStartInfo RootStartInfo(string program, params string[] arguments)
    {
        bool root = Environment.UserName == "root";
        ProcessStartInfo start = new(root ? program : "sudo");
        if (!root)
        {
            start.ArgumentList.Add("-n");
            start.ArgumentList.Add(program);
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    private static void Check(ProcessStartInfo start)
    {
        (int code, _, string errors) = Execute(start);
        if (code != 0)
        {
            throw new InvalidOperationException($"'{start.FileName} {string.Join(' ', start.ArgumentList)}' failed with exit code {code}: {errors.Trim()} (the remote-host tests need root or passwordless sudo, iproute2 and openssh-server)");
        }
    }

    private static (int Code, string Output, string Errors) Execute(ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TestDeadlines.Seconds(30)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }

        return (process.ExitCode, output.Result, errors.Result);
    }
}
