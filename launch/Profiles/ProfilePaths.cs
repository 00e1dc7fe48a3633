namespace SplitEmu.Launch.Profiles;

/// <summary>
/// The one rule for file paths written in profiles (<c>extends</c>, <c>load[].file</c>, <c>kernel</c>, disk images):
/// <list type="bullet">
/// <item><c>${splitemu}/rest</c> is relative to the folder of the splitemu executable (where the
/// build puts <c>guests/*.bin</c>); this is how shipped profiles name shipped guest images.</item>
/// <item><c>${linux-guest}/rest</c> is relative to the folder <c>scripts/fetch-linux-guest.sh</c> fetches the Linux
/// guest into (<see cref="LinuxGuestFolder"/>); this is how profiles/linux.json names the kernel, initrd and
/// disk, so it runs from the repository, the build output or an installed splitemu alike.</item>
/// <item>An absolute path is used as is.</item>
/// <item>Anything else is relative to the folder of the file that wrote it (for a <c>--set</c>
/// override: the working directory).</item>
/// </list>
/// No other <c>${...}</c> variable exists, so a typo such as <c>${splitmu}</c> is an error, not a folder name.
/// </summary>
internal static class ProfilePaths
{
    public const string SplitemuVariable = "${splitemu}";

    public const string LinuxGuestVariable = "${linux-guest}";

    /// <summary>
    /// Where the Linux guest is fetched: <c>$SPLITEMU_GUEST_CACHE</c>, else
    /// <c>${XDG_CACHE_HOME:-~/.cache}/splitemu/linux-guest</c> (the fetch script's own rule).
    /// </summary>
    public static string LinuxGuestFolder =>
        Environment.GetEnvironmentVariable("SPLITEMU_GUEST_CACHE") is { Length: > 0 } set
            ? set
            : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "splitemu", "linux-guest");

    /// <summary>Resolves <paramref name="written"/>; on failure returns null and sets <paramref name="problem"/>.</summary>
    public static string? Resolve(string written, string declaringDirectory, string splitemuDirectory, out string problem)
    {
        problem = "";
        if (written.Length == 0)
        {
            problem = "the path is empty; expected a file path";
            return null;
        }

        (string Name, string Folder)? variable =
            written.StartsWith(SplitemuVariable, StringComparison.Ordinal) ? (SplitemuVariable, splitemuDirectory)
            : written.StartsWith(LinuxGuestVariable, StringComparison.Ordinal) ? (LinuxGuestVariable, LinuxGuestFolder)
            : null;
        if ((variable is { } v ? written[v.Name.Length..] : written).Contains("${", StringComparison.Ordinal))
        {
            problem = $"'{written}' uses an unknown variable; expected no variable or a path starting with {SplitemuVariable}/ or {LinuxGuestVariable}/";
            return null;
        }

        try
        {
            if (variable is not { } known)
            {
                return Path.GetFullPath(written, declaringDirectory);
            }

            string rest = written[known.Name.Length..];
            if (rest.Length > 0 && rest[0] is not ('/' or '\\'))
            {
                problem = $"'{written}' has text right after {known.Name}; expected {known.Name}/path";
                return null;
            }

            return Path.GetFullPath(Path.Join(known.Folder, rest.TrimStart('/', '\\')));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            problem = $"'{written}' is not a valid path ({e.Message}); expected a file path";
            return null;
        }
    }

    /// <summary>How a file is named in messages: relative to the working directory when it lies below it, else absolute.</summary>
    public static string Display(string fullPath, string workingDirectory)
    {
        string relative = Path.GetRelativePath(workingDirectory, fullPath);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? fullPath : relative;
    }
}
