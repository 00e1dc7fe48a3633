namespace SplitEmu.Launch.Supervision;

/// <summary>
/// The outside half of the device sandbox (docs/processes.md, "The sandbox"): a sandboxed device process is
/// started through util-linux's <c>unshare</c>, which creates its namespaces and then execs it in place (same
/// process id, so the launcher's kill, stop and exit status reach the device itself). The inside half,
/// <c>DeviceSandbox.LockDown</c>, empties its file system and installs the seccomp filter at attach.
/// </summary>
/// <remarks>
/// Why <c>unshare</c> and not bubblewrap: it is in util-linux, which every Debian and Ubuntu system has, and
/// bubblewrap's mounts are fixed at start, before a spare knows which files its devices will name. Why no PID
/// namespace: a process can only be put in one by a parent that then stays as its init, which would hide the
/// device's exit status and stop signals from the supervisor and add a process per start; what a PID namespace
/// protects (signals to, /proc of and ptrace of other processes) the seccomp filter and the empty root refuse.
/// </remarks>
internal static class SandboxNamespaces
{
    private static readonly string? s_unshare = new[] { "/usr/bin/unshare", "/bin/unshare" }.FirstOrDefault(File.Exists);

    /// <summary>
    /// New user (mapping only the launcher's own uid and gid, to root inside, so the process may build its root
    /// and holds no capability outside), mount, network (no interfaces but a down loopback), IPC, UTS and cgroup
    /// namespaces.
    /// </summary>
    private static readonly string[] s_namespaces = ["--user", "--map-root-user", "--mount", "--net", "--ipc", "--uts", "--cgroup"];

    /// <summary>What a failed sandboxed start adds to its error, so the fix is in the same line.</summary>
    public const string Hint = "the device sandbox needs util-linux's unshare and user namespaces; \"sandbox\": \"off\" in the profile (or --set sandbox=off) runs device processes without it";

    /// <summary><paramref name="command"/> started inside new namespaces.</summary>
    /// <exception cref="InvalidOperationException">unshare is not installed.</exception>
    public static string[] Wrap(string[] command) =>
        s_unshare is null ? throw new InvalidOperationException("unshare was not found in /usr/bin or /bin; " + Hint) : [s_unshare, .. s_namespaces, "--", .. command];
}
