namespace SplitEmu.Launch.Profiles;

/// <summary>
/// The one rule for file paths written in profiles (<c>extends</c> and <c>load[].file</c>):
/// <list type="bullet">
/// <item><c>${splitemu}/rest</c> is relative to the folder of the splitemu executable (where the
/// build puts <c>guests/*.bin</c>); this is how shipped profiles name shipped guest images.</item>
/// <item>An absolute path is used as is.</item>
/// <item>Anything else is relative to the folder of the file that wrote it (for a <c>--set</c>
/// override: the working directory).</item>
/// </list>
/// No other <c>${...}</c> variable exists, so a typo such as <c>${splitmu}</c> is an error, not a folder name.
/// </summary>
internal static class ProfilePaths
{
    public const string SplitemuVariable = "${splitemu}";

    /// <summary>Resolves <paramref name="written"/>; on failure returns null and sets <paramref name="problem"/>.</summary>
    public static string? Resolve(string written, string declaringDirectory, string splitemuDirectory, out string problem)
    {
        problem = "";
        if (written.Length == 0)
        {
            problem = "the path is empty; expected a file path";
            return null;
        }

        bool fromSplitemu = written.StartsWith(SplitemuVariable, StringComparison.Ordinal);
        if ((fromSplitemu ? written[SplitemuVariable.Length..] : written).Contains("${", StringComparison.Ordinal))
        {
            problem = $"'{written}' uses an unknown variable; expected no variable or a path starting with {SplitemuVariable}/";
            return null;
        }

        try
        {
            if (!fromSplitemu)
            {
                return Path.GetFullPath(written, declaringDirectory);
            }

            string rest = written[SplitemuVariable.Length..];
            if (rest.Length > 0 && rest[0] is not ('/' or '\\'))
            {
                problem = $"'{written}' has text right after {SplitemuVariable}; expected {SplitemuVariable}/path";
                return null;
            }

            return Path.GetFullPath(Path.Join(splitemuDirectory, rest.TrimStart('/', '\\')));
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
