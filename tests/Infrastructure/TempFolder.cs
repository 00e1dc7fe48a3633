namespace SplitEmu.Tests.Infrastructure;

/// <summary>A temporary folder removed when the test ends.</summary>
public sealed class TempFolder : IDisposable
{
    /// <summary>Creates a new empty folder.</summary>
    public TempFolder() => Path = Directory.CreateTempSubdirectory("splitemu-test-").FullName;

    /// <summary>Its full path.</summary>
    public string Path { get; }

    /// <summary>Full path of <paramref name="name"/> in the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <inheritdoc/>
    public void Dispose() => Directory.Delete(Path, recursive: true);
}
