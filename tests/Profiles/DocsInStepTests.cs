using System.Text.RegularExpressions;
using SplitEmu.DeviceHost.Devices;
using SplitEmu.Launch.Profiles;

namespace SplitEmu.Tests.Profiles;

/// <summary>
/// docs/profiles.md says what the loader and the validator do: its device-type tables are the ones generated
/// from <see cref="DeviceCatalog"/>, and every property the loader accepts is described there.
/// </summary>
public sealed class DocsInStepTests
{
    private static readonly string s_profilesDoc = File.ReadAllText(Path.Combine(ProfileTestPaths.RepositoryRoot, "docs", "profiles.md"));

    /// <summary>Every property table of the loader, by the object it describes.</summary>
    public static TheoryData<string, string[]> LoaderKeys { get; } = new()
    {
        { "root", ProfileBinder.RootKeys },
        { "memory", ProfileBinder.MemoryKeys },
        { "load", ProfileBinder.LoadKeys },
        { "cpu", ProfileBinder.CpuKeys },
        { "firmware", ProfileBinder.FirmwareKeys },
        { "device", ProfileBinder.DeviceKeys },
        { "restart", ProfileBinder.RestartKeys },
        { "crash", ProfileBinder.CrashKeys },
    };

    [Fact]
    public void DeviceTypeTables_InTheDocs_AreTheGeneratedOnes()
    {
        string expected = DeviceTypeTable.Markdown();
        int begin = s_profilesDoc.IndexOf(DeviceTypeTable.BeginMarker + "\n", StringComparison.Ordinal);
        int end = s_profilesDoc.IndexOf(DeviceTypeTable.EndMarker, StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, $"docs/profiles.md must hold the lines\n{DeviceTypeTable.BeginMarker}\n{DeviceTypeTable.EndMarker}");
        string committed = s_profilesDoc[(begin + DeviceTypeTable.BeginMarker.Length + 1)..end].ReplaceLineEndings("\n");

        Assert.True(
            committed == expected,
            $"docs/profiles.md section 7 differs from the catalog; replace the lines between the markers with (`splitemu profiles --types`):\n{expected}");
    }

    [Fact]
    public void EveryConfigKey_HasAMeaning_AndOnlyConfigKeysHaveOne()
    {
        string[] missing = [.. DeviceCatalog.All.Values.SelectMany(t => t.ConfigKeys.Where(k => !t.ConfigKeyMeanings.ContainsKey(k)).Select(k => $"{t.Name}.{k}"))];
        string[] unknown = [.. DeviceCatalog.All.Values.SelectMany(t => t.ConfigKeyMeanings.Keys.Except(t.ConfigKeys).Select(k => $"{t.Name}.{k}"))];

        Assert.Empty(missing);
        Assert.Empty(unknown);
    }

    [Theory]
    [MemberData(nameof(LoaderKeys))]
    public void EveryPropertyTheLoaderAccepts_IsDescribedInTheDocs(string owner, string[] keys)
    {
        // Written as code: `key`, `object.key` or "key" in an example.
        string[] undocumented = [.. keys.Where(k => !Regex.IsMatch(s_profilesDoc, $@"(?<=[`.""]){Regex.Escape(k)}(?=[`"".=\[])"))];

        Assert.True(undocumented.Length == 0, $"docs/profiles.md does not describe these {owner} properties: {string.Join(", ", undocumented)}");
    }
}
