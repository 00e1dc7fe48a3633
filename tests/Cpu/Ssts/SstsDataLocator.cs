namespace SplitEmu.Tests.Cpu.Ssts;

/// <summary>Finds the SingleStepTests 80286 real-mode data beside the repository (it is never copied into it).</summary>
public static class SstsDataLocator
{
    /// <summary>Overrides the location of the data folder.</summary>
    public const string EnvironmentVariable = "SPLITEMU_SSTS_DIR";

    private const string SolutionFileName = "SplitEmu.sln";

    /// <summary>
    /// The data folder: <c>$SPLITEMU_SSTS_DIR</c> if set, else <c>../shared/data/ssts-80286-real</c> relative to the
    /// repository root (the first ancestor of the test binaries holding SplitEmu.sln).
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist; the message says where it was looked for.</exception>
    public static string Locate() => Locate(Environment.GetEnvironmentVariable(EnvironmentVariable), AppContext.BaseDirectory);

    /// <summary>As <see cref="Locate()"/>, with the override and the search start given explicitly.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist; the message says where it was looked for.</exception>
    public static string Locate(string? configuredFolder, string searchStart)
    {
        string candidate;
        if (!string.IsNullOrEmpty(configuredFolder))
        {
            candidate = configuredFolder;
        }
        else
        {
            string? root = FindRepositoryRoot(searchStart)
                ?? throw new DirectoryNotFoundException(
                    $"SSTS data: no {SolutionFileName} above {searchStart}; set {EnvironmentVariable} to the ssts-80286-real folder.");
            candidate = Path.GetFullPath(Path.Combine(root, "..", "shared", "data", "ssts-80286-real"));
        }

        if (!File.Exists(Path.Combine(candidate, "metadata.json")))
        {
            throw new DirectoryNotFoundException(
                $"SSTS data missing: expected metadata.json and *.jsonl.gz in '{candidate}'. " +
                $"Place the hand-out folder at ../shared/data/ssts-80286-real beside the repository or set {EnvironmentVariable}.");
        }
        return candidate;
    }

    private static string? FindRepositoryRoot(string start)
    {
        for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, SolutionFileName)))
                return dir.FullName;
        }
        return null;
    }
}
