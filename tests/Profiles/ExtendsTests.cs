using SplitEmu.Launch.Profiles;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Profiles;

/// <summary>
/// <c>extends</c>: objects merge with the child winning, devices merge by id, other arrays are
/// replaced, null removes, and errors point at the file that wrote the value.
/// The child profiles here are text whose base folder is <c>profiles/</c>, so they extend the shipped default.
/// </summary>
public sealed class ExtendsTests : IDisposable
{
    private readonly ProfileLoader _loader = new(ProfileTestPaths.SplitemuDirectory, ProfileTestPaths.RepositoryRoot);
    private readonly string _scratch = Directory.CreateTempSubdirectory("splitemu-profile-tests-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public void ChildValuesWinOverInheritedValues()
    {
        MachineProfile profile = LoadChild("""{ "schemaVersion": 1, "extends": "default.json", "name": "bigger", "memory": { "sizeMiB": 64 } }""");

        Assert.Equal(("bigger", 64), (profile.Name, profile.Memory.SizeMiB));
    }

    [Fact]
    public void ChildObjectsMergeWithInheritedObjectsFieldByField()
    {
        MachineProfile profile = LoadChild("""{ "schemaVersion": 1, "extends": "default.json", "cpu": { "stack": "0x300000" } }""");

        Assert.Equal(new CpuConfig { Mode = CpuStartMode.Protected32Flat, Entry = 0x100000, Stack = 0x300000 }, profile.Cpu);
    }

    [Fact]
    public void DeviceWithAnInheritedIdPatchesThatDeviceInPlace()
    {
        MachineProfile profile = LoadChild("""{ "schemaVersion": 1, "extends": "default.json", "devices": [ { "id": "com1", "irq": 3 } ] }""");

        Assert.Equal(["com1", "exit"], profile.Devices.Select(d => d.Id));
        Assert.Equal(("uart16550", (ushort?)0x3f8, (int?)3), (profile.Devices[0].Type, profile.Devices[0].Io, profile.Devices[0].Irq));
    }

    [Fact]
    public void DeviceWithANewIdIsAppendedAfterTheInheritedDevices()
    {
        MachineProfile profile = LoadChild("""
            { "schemaVersion": 1, "extends": "default.json",
              "devices": [ { "id": "com2", "type": "uart16550", "io": "0x2f8", "irq": 3 } ] }
            """);

        Assert.Equal(["com1", "exit", "com2"], profile.Devices.Select(d => d.Id));
    }

    [Fact]
    public void LoadArrayInTheChildReplacesTheInheritedLoadArray()
    {
        string image = Path.Combine(_scratch, "other.bin");
        File.WriteAllBytes(image, new byte[64]);

        ProfileLoadResult result = _loader.LoadFromText(
            $$"""{ "schemaVersion": 1, "extends": "{{Path.Combine(ProfileTestPaths.ShippedProfiles, "default.json")}}", "load": [ { "file": "other.bin", "address": "0x200000" } ] }""",
            "child.json", _scratch, []);

        Assert.Equal([image], result.LoadImagePaths);
        Assert.Equal(0x200000UL, Assert.Single(result.Profile!.Load).Address);
    }

    [Fact]
    public void NullInTheChildRemovesTheInheritedProperty()
    {
        MachineProfile profile = LoadChild("""{ "schemaVersion": 1, "extends": "default.json", "console": null }""");

        Assert.Null(profile.Console);
    }

    [Fact]
    public void NullLetsAChildDropAnInheritedSettingThatNoLongerApplies()
    {
        WriteScratch("parent.json", """
            { "schemaVersion": 1, "memory": { "sizeMiB": 1 }, "cpu": { "mode": "reset" },
              "devices": [ { "id": "exit", "type": "debug-exit", "io": "0x501", "waitPolicy": "hybrid", "spinBudget": 100 } ] }
            """);

        ProfileLoadResult result = _loader.LoadFromText(
            """{ "schemaVersion": 1, "extends": "parent.json", "devices": [ { "id": "exit", "waitPolicy": "spin", "spinBudget": null } ] }""",
            "child.json", _scratch, []);

        Assert.Empty(result.Errors);
        Assert.Equal(WaitPolicy.Spin, result.Profile!.Devices[0].WaitPolicy);
    }

    [Fact]
    public void RelativeImagePathsResolveAgainstTheFolderOfTheFileThatWroteThem()
    {
        Directory.CreateDirectory(Path.Combine(_scratch, "base", "images"));
        File.WriteAllBytes(Path.Combine(_scratch, "base", "images", "boot.bin"), new byte[16]);
        WriteScratch("base/parent.json", """
            { "schemaVersion": 1, "memory": { "sizeMiB": 1 }, "cpu": { "mode": "reset" },
              "load": [ { "file": "images/boot.bin", "address": 0 } ] }
            """);

        ProfileLoadResult result = _loader.LoadFromText("""{ "schemaVersion": 1, "extends": "base/parent.json" }""", "child.json", _scratch, []);

        Assert.Equal([Path.Combine(_scratch, "base", "images", "boot.bin")], result.LoadImagePaths);
    }

    [Fact]
    public void ErrorCausedByAnInheritedValuePointsAtTheParentFile()
    {
        // 1 MiB of RAM ends exactly where default.json loads hello.bin, so the inherited load entry no longer fits.
        ProfileLoadResult result = _loader.LoadFromText(
            """{ "schemaVersion": 1, "extends": "default.json", "memory": { "sizeMiB": 1 }, "cpu": { "mode": "reset", "entry": null, "stack": null } }""",
            "child.json", ProfileTestPaths.ShippedProfiles, []);

        ProfileError error = Assert.Single(result.Errors);
        Assert.Equal(("profiles/default.json", "$.load[0].address"), (error.File, error.JsonPath));
        Assert.Equal(7, error.Line);
    }

    [Fact]
    public void ChainsOfThreeProfilesApplyFromTheBottomUp()
    {
        WriteScratch("a.json", """{ "schemaVersion": 1, "name": "a", "memory": { "sizeMiB": 2 }, "cpu": { "mode": "reset" } }""");
        WriteScratch("b.json", """{ "schemaVersion": 1, "extends": "a.json", "name": "b", "memory": { "sizeMiB": 4 } }""");

        ProfileLoadResult result = _loader.LoadFromText("""{ "schemaVersion": 1, "extends": "b.json", "name": "c" }""", "c.json", _scratch, []);

        Assert.Equal(("c", 4, CpuStartMode.Reset), (result.Profile!.Name, result.Profile.Memory.SizeMiB, result.Profile.Cpu.Mode));
    }

    [Fact]
    public void EveryFileInTheChainMustDeclareTheSchemaVersion()
    {
        WriteScratch("old.json", """{ "schemaVersion": 0, "cpu": { "mode": "reset" } }""");

        ProfileLoadResult result = _loader.LoadFromText("""{ "schemaVersion": 1, "extends": "old.json" }""", "new.json", _scratch, []);

        ProfileError error = Assert.Single(result.Errors);
        Assert.Equal((1, "$.schemaVersion"), (error.Line, error.JsonPath));
        Assert.EndsWith("old.json", error.File);
    }

    private MachineProfile LoadChild(string text)
    {
        ProfileLoadResult result = _loader.LoadFromText(text, "child.json", ProfileTestPaths.ShippedProfiles, []);
        Assert.Empty(result.Errors.Select(e => e.ToString()));
        return result.Profile!;
    }

    private void WriteScratch(string relativePath, string text) => File.WriteAllText(Path.Combine(_scratch, relativePath), text);
}
