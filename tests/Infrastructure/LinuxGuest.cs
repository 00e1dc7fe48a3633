using System.Diagnostics;
using SplitEmu.Tests.Profiles;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>
/// Debian's i386 686 kernel, its modules, busybox and an initrd, fetched once per machine by
/// <c>scripts/fetch-linux-guest.sh</c> into a cache every test run shares (never into git), the folder
/// <c>profiles/linux.json</c> names <c>${linux-guest}/</c>.
/// </summary>
public static class LinuxGuest
{
    private static readonly Lazy<string> s_folder = new(Fetch, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The cache folder (fetched on first use; fails the test with the script's words if it cannot be).</summary>
    public static string Folder => s_folder.Value;

    /// <summary>The bzImage.</summary>
    public static string Kernel => Path.Combine(Folder, "kernel", "bzImage");

    /// <summary>The busybox initrd (cpio newc).</summary>
    public static string Initrd => Path.Combine(Folder, "initrd.cpio");

    private static string Fetch()
    {
        string script = Path.Combine(ProfileTestPaths.RepositoryRoot, "scripts", "fetch-linux-guest.sh");
        ProcessStartInfo start = new("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TestDeadlines.Minutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{script} did not finish within {TestDeadlines.Minutes(5).TotalMinutes:F0} minutes");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} failed (exit {process.ExitCode}); the Linux guest tests need apt with network access:\n{stderr.Result}");
        }

        return stdout.Result.Trim();
    }
}
