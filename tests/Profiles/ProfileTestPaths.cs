using System.Runtime.CompilerServices;

namespace SplitEmu.Tests.Profiles;

/// <summary>
/// Folders the profile tests read. Profiles and the bad corpus are read from the source tree (the
/// test project does not copy them); guest images come from the test output folder, where the
/// build copies <c>guests/*.bin</c>, so it stands in for the splitemu folder.
/// </summary>
internal static class ProfileTestPaths
{
    /// <summary>The repository root: the nearest folder above the test binaries that holds SplitEmu.sln.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string ShippedProfiles => Path.Combine(RepositoryRoot, "profiles");

    public static string BadCorpus => Path.Combine(RepositoryRoot, "tests", "Profiles", "Bad");

    public static string Schema => Path.Combine(RepositoryRoot, "schema", "splitemu-profile.schema.json");

    /// <summary>Stands in for the splitemu executable's folder: it has <c>guests/hello.bin</c>.</summary>
    public static string SplitemuDirectory => AppContext.BaseDirectory;

    /// <summary>Looks above the test binaries first, then above this source file (for builds whose output lies outside the tree).</summary>
    private static string FindRepositoryRoot([CallerFilePath] string sourceFile = "")
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(sourceFile) ?? "" })
        {
            for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
            {
                if (File.Exists(Path.Combine(folder.FullName, "SplitEmu.sln")))
                {
                    return folder.FullName;
                }
            }
        }

        throw new InvalidOperationException($"SplitEmu.sln not found above {AppContext.BaseDirectory} or {sourceFile}");
    }
}
