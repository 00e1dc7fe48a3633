using SplitEmu.Launch.Profiles;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Profiles;

/// <summary>A device's <c>host</c> and <c>failover</c> (docs/remote-devices.md) bind, validate and take <c>--set</c>; the refusals are in the bad-profile corpus.</summary>
public sealed class RemoteDeviceProfileTests
{
    private readonly ProfileLoader _loader = new(ProfileTestPaths.SplitemuDirectory, ProfileTestPaths.RepositoryRoot);

    [Fact]
    public void ADeviceOnAHost_WithFailoverHosts_Binds()
    {
        using TempFolder folder = new();
        MachineProfile profile = Load(folder);

        DeviceConfig com1 = profile.Devices.Single(d => d.Id == "com1");
        Assert.Equal("lab", com1.Host);
        Assert.Equal(["rig", "spare"], com1.Failover);
        Assert.Null(profile.Devices.Single(d => d.Id == "exit").Host);
    }

    [Fact]
    public void SetMovesADeviceToAnotherHost()
    {
        using TempFolder folder = new();
        MachineProfile profile = Load(folder, "devices.com1.host=spare", "devices.com1.failover=null");

        DeviceConfig com1 = profile.Devices.Single(d => d.Id == "com1");
        Assert.Equal("spare", com1.Host);
        Assert.Empty(com1.Failover);
    }

    private MachineProfile Load(TempFolder folder, params string[] overrides)
    {
        string path = folder.File("remote.json");
        File.WriteAllText(path, $$"""
            {
              "schemaVersion": 1,
              "extends": "{{Path.Combine(ProfileTestPaths.ShippedProfiles, "default.json")}}",
              "name": "remote",
              "hosts": {
                "lab": { "url": "ssh://lab.example" },
                "rig": { "url": "ssh://ops@rig.example:2222" },
                "spare": { "url": "ssh://spare.example" }
              },
              "devices": [ { "id": "com1", "host": "lab", "failover": [ "rig", "spare" ] } ]
            }
            """);
        ProfileLoadResult loaded = _loader.Load(path, overrides);
        Assert.True(loaded.Profile is not null, string.Join('\n', loaded.Errors));
        return loaded.Profile!;
    }
}
