namespace SplitEmu.Tests.Cpu.Ssts;

/// <summary>A missing data folder must fail loudly, naming where it looked.</summary>
public sealed class SstsDataLocatorTests
{
    [Fact]
    public void Locate_ConfiguredFolderWithoutData_ThrowsNamingTheFolder()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"splitemu-no-ssts-{Guid.NewGuid():N}");

        var error = Assert.Throws<DirectoryNotFoundException>(() => SstsDataLocator.Locate(missing, AppContext.BaseDirectory));

        Assert.Contains(missing, error.Message);
        Assert.Contains(SstsDataLocator.EnvironmentVariable, error.Message);
    }

    [Fact]
    public void Locate_NoRepositoryAboveSearchStart_ThrowsNamingTheVariable()
    {
        string outside = Path.GetPathRoot(Path.GetTempPath())!;

        var error = Assert.Throws<DirectoryNotFoundException>(() => SstsDataLocator.Locate(null, outside));

        Assert.Contains(SstsDataLocator.EnvironmentVariable, error.Message);
    }

    [Fact]
    public void Locate_FromTestBinaries_FindsTheFolderBesideTheRepository()
    {
        string folder = SstsDataLocator.Locate(null, AppContext.BaseDirectory);

        Assert.EndsWith("ssts-80286-real", folder);
        Assert.True(File.Exists(Path.Combine(folder, "metadata.json")));
    }
}
