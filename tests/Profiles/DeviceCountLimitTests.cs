using SplitEmu.Launch.Profiles;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Profiles;

/// <summary>A profile cannot ask for more devices or device processes than a machine can carry (issue 17, item 11).</summary>
public sealed class DeviceCountLimitTests
{
    private static ProfileLoadResult LoadWith(int isolatedUarts, int inlineExits)
    {
        using TempFolder folder = new();
        File.WriteAllBytes(folder.File("guest.bin"), [0xF4]);
        IEnumerable<string> uarts = Enumerable.Range(0, isolatedUarts).Select(i => $$"""{ "id": "u{{i}}", "type": "testdev", "io": "0x{{0x1000 + i * 16:x}}" }""");
        IEnumerable<string> exits = Enumerable.Range(0, inlineExits).Select(i => $$"""{ "id": "e{{i}}", "type": "debug-exit", "io": "0x{{0x4000 + i:x}}", "placement": "inline" }""");
        File.WriteAllText(folder.File("machine.json"), $$"""
            {
              "schemaVersion": 1,
              "name": "many",
              "load": [ { "file": "guest.bin", "address": "0x100000" } ],
              "cpu": { "entry": "0x100000", "stack": "0x200000" },
              "devices": [ {{string.Join(",\n", uarts.Concat(exits))}} ]
            }
            """);
        return new ProfileLoader(ProfileTestPaths.SplitemuDirectory, folder.Path).Load("machine.json", []);
    }

    [Fact]
    public void AsManyDeviceProcessesAsAllowed_Validate()
    {
        Assert.Empty(LoadWith(ProfileDefaults.MaxDeviceProcesses, 0).Errors);
    }

    [Fact]
    public void OneDeviceProcessTooMany_IsRefused_WithTheLimit()
    {
        ProfileError error = Assert.Single(LoadWith(ProfileDefaults.MaxDeviceProcesses + 1, 0).Errors);

        Assert.Contains($"{ProfileDefaults.MaxDeviceProcesses + 1} device processes", error.ToString(), StringComparison.Ordinal);
        Assert.Contains($"at most {ProfileDefaults.MaxDeviceProcesses}", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void MoreDevicesThanAllowed_IsRefused_EvenInline()
    {
        ProfileLoadResult result = LoadWith(0, ProfileDefaults.MaxDevices + 1);

        Assert.Contains(result.Errors, e => e.ToString().Contains($"{ProfileDefaults.MaxDevices + 1} devices; expected at most {ProfileDefaults.MaxDevices}", StringComparison.Ordinal));
    }
}
