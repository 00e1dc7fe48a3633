namespace SplitEmu.Tests.Infrastructure;

/// <summary>
/// A temporary folder removed when the test ends. Its name carries the test process's id, so that folders of
/// a test run that was killed (and could not remove them) are swept by the next run.
/// </summary>
public sealed class TempFolder : IDisposable
{
    private const string Prefix = "splitemu-test-";

    private static readonly Lazy<bool> s_swept = new(() => { SweepFoldersOfDeadRuns(); return true; });

    /// <summary>Creates a new empty folder.</summary>
    public TempFolder()
    {
        _ = s_swept.Value;
        Path = Directory.CreateTempSubdirectory($"{Prefix}{Environment.ProcessId}-").FullName;
    }

    /// <summary>Its full path.</summary>
    public string Path { get; }

    /// <summary>Full path of <paramref name="name"/> in the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <inheritdoc/>
    public void Dispose() => Directory.Delete(Path, recursive: true);

    /// <summary>Removes the folders of test processes that no longer run (done once per test process, at its first folder).</summary>
    internal static void SweepFoldersOfDeadRuns()
    {
        foreach (string folder in Directory.EnumerateDirectories(System.IO.Path.GetTempPath(), Prefix + "*"))
        {
            string[] parts = System.IO.Path.GetFileName(folder)[Prefix.Length..].Split('-');
            if (int.TryParse(parts[0], out int pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                try
                {
                    Directory.Delete(folder, recursive: true);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Another test run sweeps it at the same time, or it is not ours.
                }
            }
        }
    }
}
