using SplitEmu.DeviceHost.Devices.Bench;
using SplitEmu.DeviceHost.Devices.Debug;
using SplitEmu.DeviceHost.Devices.Firmware;
using SplitEmu.DeviceHost.Devices.Serial;
using SplitEmu.DeviceHost.Devices.Storage;
using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.DeviceHost.Devices;
using SplitEmu.Launch.Profiles;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.Tests.Profiles;

/// <summary>
/// Firmware and the PC platform device types: binding, type-dependent defaults, path resolution of
/// <c>firmware.file</c> and device file keys (relative to the profile that wrote them), and the checks
/// the bad corpus cannot express without large files. Profiles are written to a scratch folder.
/// </summary>
public sealed class PlatformProfileTests : IDisposable
{
    private const int KiB = 1024;

    private readonly string _scratch = Directory.CreateTempSubdirectory("splitemu-platform-tests-").FullName;
    private readonly ProfileLoader _loader;

    public PlatformProfileTests()
    {
        _loader = new ProfileLoader(ProfileTestPaths.SplitemuDirectory, _scratch);
        WriteBytes("bios.bin", 128 * KiB);
    }

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public void SeaBiosMachineBindsWithResolvedPathsAndTypeDefaults()
    {
        WriteBytes("disks/hd.img", 4 * KiB);

        MachineProfile profile = Load("""
            { "schemaVersion": 1, "cpu": { "mode": "reset" }, "firmware": { "file": "bios.bin" }, "console": "dbg",
              "devices": [
                { "id": "pic", "type": "i8259" },
                { "id": "pci", "type": "i440fx", "placement": "inline" },
                { "id": "isa", "type": "piix3-isa" },
                { "id": "ide", "type": "piix3-ide", "config": { "primary-master": "disks/hd.img" } },
                { "id": "pit", "type": "i8254" },
                { "id": "rtc", "type": "mc146818", "io": "0x70" },
                { "id": "dbg", "type": "debugcon" },
                { "id": "fwcfg", "type": "fw-cfg", "config": { "sercon-port": "0x3f8", "bootorder": "/pci@i0cf8/ide@1,1" } } ] }
            """);

        Assert.Equal(new FirmwareConfig { File = Path.Combine(_scratch, "bios.bin") }, profile.Firmware);
        Assert.Equal(CpuStartMode.Reset, profile.Cpu.Mode);
        Assert.Equal("dbg", profile.Console);
        Dictionary<string, DeviceConfig> devices = profile.Devices.ToDictionary(d => d.Id);
        Assert.Equal((Placement.Inline, Placement.Inline, Placement.Isolated), (devices["pic"].Placement, devices["pci"].Placement, devices["ide"].Placement));
        Assert.Equal(((ushort?)0x40, (ushort?)0x70, (ushort?)0x402, (ushort?)null), (devices["pit"].Io, devices["rtc"].Io, devices["dbg"].Io, devices["pic"].Io));
        Assert.Equal(Path.Combine(_scratch, "disks", "hd.img"), Assert.Single(devices["ide"].Config).Value);
        Assert.Equal("/pci@i0cf8/ide@1,1", devices["fwcfg"].Config["bootorder"]);
        Assert.Equal("0x3f8", devices["fwcfg"].Config["sercon-port"]);
    }

    [Fact]
    public void ProfileWithoutFirmwareBindsNull()
    {
        Assert.Null(Load("""{ "schemaVersion": 1, "cpu": { "mode": "reset" } }""").Firmware);
    }

    [Fact]
    public void DefaultBaseCanBeMovedWithIo()
    {
        MachineProfile profile = Load("""{ "schemaVersion": 1, "cpu": { "mode": "reset" }, "devices": [ { "id": "dbg", "type": "debugcon", "io": "0xe9" } ] }""");

        Assert.Equal((ushort?)0xe9, profile.Devices[0].Io);
    }

    [Fact]
    public void InheritedFirmwareAndDisksResolveAgainstTheParentFolderAndChildValuesAgainstTheChild()
    {
        WriteBytes("base/rom/bios.bin", 64 * KiB);
        WriteBytes("base/disks/a.img", KiB);
        WriteBytes("child-disks/b.img", KiB);
        WriteText("base/parent.json", """
            { "schemaVersion": 1, "cpu": { "mode": "reset" }, "firmware": { "file": "rom/bios.bin" },
              "devices": [ { "id": "ide", "type": "piix3-ide", "config": { "primary-master": "disks/a.img" } } ] }
            """);

        MachineProfile profile = Load("""
            { "schemaVersion": 1, "extends": "base/parent.json",
              "devices": [ { "id": "ide", "config": { "secondary-master": "child-disks/b.img" } } ] }
            """);

        Assert.Equal(Path.Combine(_scratch, "base", "rom", "bios.bin"), profile.Firmware!.File);
        IReadOnlyDictionary<string, string> config = profile.Devices[0].Config;
        Assert.Equal(Path.Combine(_scratch, "base", "disks", "a.img"), config["primary-master"]);
        Assert.Equal(Path.Combine(_scratch, "child-disks", "b.img"), config["secondary-master"]);
    }

    [Fact]
    public void ChildFirmwareReplacesTheParentsAndResolvesAgainstTheChild()
    {
        WriteBytes("base/bios.bin", 64 * KiB);
        WriteText("base/parent.json", """{ "schemaVersion": 1, "cpu": { "mode": "reset" }, "firmware": { "file": "bios.bin" } }""");

        MachineProfile profile = Load("""{ "schemaVersion": 1, "extends": "base/parent.json", "firmware": { "file": "bios.bin" } }""");

        Assert.Equal(Path.Combine(_scratch, "bios.bin"), profile.Firmware!.File);
    }

    [Fact]
    public void NullInTheChildRemovesTheInheritedFirmware()
    {
        WriteText("parent.json", """{ "schemaVersion": 1, "cpu": { "mode": "reset" }, "firmware": { "file": "bios.bin" } }""");

        Assert.Null(Load("""{ "schemaVersion": 1, "extends": "parent.json", "firmware": null }""").Firmware);
    }

    [Fact]
    public void SetOverridesFirmwareFileRelativeToTheWorkingDirectory()
    {
        WriteBytes("other/seabios.bin", 256 * KiB);
        WriteText("machine.json", """{ "schemaVersion": 1, "cpu": { "mode": "reset" }, "firmware": { "file": "bios.bin" } }""");

        ProfileLoadResult result = _loader.Load("machine.json", ["firmware.file=other/seabios.bin"]);

        Assert.Empty(result.Errors.Select(e => e.ToString()));
        Assert.Equal(Path.Combine(_scratch, "other", "seabios.bin"), result.Profile!.Firmware!.File);
    }

    [Fact]
    public void SetCanAddFirmwareToAProfileWithout()
    {
        WriteText("machine.json", """{ "schemaVersion": 1, "cpu": { "mode": "reset" } }""");

        ProfileLoadResult result = _loader.Load("machine.json", ["firmware.file=bios.bin"]);

        Assert.Equal(Path.Combine(_scratch, "bios.bin"), result.Profile?.Firmware?.File);
    }

    [Theory]
    [InlineData(64 * KiB)]
    [InlineData(192 * KiB)]
    [InlineData(16 * 1024 * KiB)]
    public void FirmwareSizesInWholeBlocksOf64KiBUpTo16MiBAreAccepted(int bytes)
    {
        WriteBytes("rom.bin", bytes);

        Assert.NotNull(Load("""{ "schemaVersion": 1, "cpu": { "mode": "reset" }, "firmware": { "file": "rom.bin" } }""").Firmware);
    }

    [Theory]
    [InlineData(96 * KiB, "firmware image 'rom.bin' is 98304 bytes, not a whole number of 64 KiB blocks; expected a multiple of 65536 bytes")]
    [InlineData(32 * KiB, "firmware image 'rom.bin' is 32768 bytes; expected 64 KiB to 16 MiB (65536-16777216 bytes)")]
    [InlineData(16 * 1024 * KiB + 64 * KiB, "firmware image 'rom.bin' is 16842752 bytes; expected 64 KiB to 16 MiB (65536-16777216 bytes)")]
    public void FirmwareOfAWrongSizeIsRefused(int bytes, string expected)
    {
        WriteBytes("rom.bin", bytes);

        ProfileError error = Assert.Single(LoadErrors("""{ "schemaVersion": 1, "cpu": { "mode": "reset" }, "firmware": { "file": "rom.bin" } }"""));

        Assert.Equal(("$.firmware.file", expected), (error.JsonPath, error.Message));
    }

    [Fact]
    public void FirmwareThatIsAFolderIsRefused()
    {
        Directory.CreateDirectory(Path.Combine(_scratch, "rom"));

        ProfileError error = Assert.Single(LoadErrors("""{ "schemaVersion": 1, "cpu": { "mode": "reset" }, "firmware": { "file": "rom" } }"""));

        Assert.Equal("machine.json:1:65: $.firmware.file: 'rom' is a folder (rom); expected a firmware image file", error.ToString());
    }

    [Fact]
    public void DiskImageThatIsAFolderIsRefused()
    {
        Directory.CreateDirectory(Path.Combine(_scratch, "disk"));

        ProfileError error = Assert.Single(LoadErrors("""{ "schemaVersion": 1, "cpu": { "mode": "reset" }, "devices": [ { "id": "ide", "type": "piix3-ide", "config": { "primary-slave": "disk" } } ] }"""));

        Assert.Equal(("$.devices[0].config.primary-slave", "'disk' is a folder (disk); expected a file"), (error.JsonPath, error.Message));
    }

    [Fact]
    public void EveryFirmwareProblemIsReportedInOneRun()
    {
        string[] errors = LoadErrors("""
            { "schemaVersion": 1, "firmware": { "file": "${splitmu}/bios.bin" },
              "devices": [ { "id": "ide", "type": "piix3-ide", "config": { "primary-master": "none.img" } }, { "id": "pic", "type": "i8259", "placement": "group", "group": "g" } ] }
            """).Select(e => $"{e.JsonPath}: {e.Message}").ToArray();

        Assert.Equal(
            [
                "$.firmware.file: '${splitmu}/bios.bin' uses an unknown variable; expected no variable or a path starting with ${splitemu}/ or ${linux-guest}/",
                "$.firmware: firmware needs cpu.mode reset, but the mode is the default protected32-flat; expected \"cpu\": { \"mode\": \"reset\" } (the CPU starts at the reset vector F000:FFF0 inside the firmware)",
                "$.devices[0].config.primary-master: file 'none.img' not found at none.img; expected an existing file (relative paths are relative to the profile's folder; ${splitemu}/ is the splitemu folder)",
                "$.devices[1].placement: device type i8259 runs only in the CPU process (interrupt delivery is the CPU's); expected placement inline, or leave placement out",
                "$.devices[1].group: process group 'g' has only device 'pic'; expected two or more devices per group (use placement isolated for a device alone in its process)",
            ],
            errors);
    }

    [Fact]
    public void HostBridgeRefusesIsolatedPlacementAndSaysWhy()
    {
        ProfileError error = Assert.Single(LoadErrors("""{ "schemaVersion": 1, "cpu": { "mode": "reset" }, "devices": [ { "id": "pci", "type": "i440fx", "placement": "isolated" } ] }"""));

        Assert.Equal("device type i440fx runs only in the CPU process (it forwards configuration cycles in the CPU process); expected placement inline, or leave placement out", error.Message);
    }

    [Fact]
    public void SetPlacementOnAnInlineOnlyDeviceIsRefused()
    {
        WriteText("machine.json", """{ "schemaVersion": 1, "cpu": { "mode": "reset" }, "devices": [ { "id": "pic", "type": "i8259" } ] }""");

        ProfileError error = Assert.Single(_loader.Load("machine.json", ["devices.pic.placement=isolated"]).Errors);

        Assert.Equal(("--set devices.pic.placement=isolated", "$.devices[0].placement"), (error.File, error.JsonPath));
    }

    [Fact]
    public void MovableRangeOnFixedPortsIsBlamedWhicheverDeviceComesFirst()
    {
        ProfileError error = Assert.Single(LoadErrors("""
            { "schemaVersion": 1, "cpu": { "mode": "reset" },
              "devices": [ { "id": "com3", "type": "uart16550", "io": "0x510", "irq": 3 }, { "id": "fwcfg", "type": "fw-cfg" } ] }
            """));

        Assert.Equal(("$.devices[0].io", "I/O ports 0x510-0x517 of device 'com3' overlap fixed ports 0x510-0x511 of device 'fwcfg' (fw-cfg); expected a free range"), (error.JsonPath, error.Message));
    }

    [Fact]
    public void DefaultBaseTakesPartInTheOverlapCheck()
    {
        ProfileError error = Assert.Single(LoadErrors("""
            { "schemaVersion": 1, "cpu": { "mode": "reset" },
              "devices": [ { "id": "t", "type": "testdev", "io": "0x400" }, { "id": "dbg", "type": "debugcon" } ] }
            """));

        Assert.Equal(("$.devices[1].io", "I/O ports 0x402-0x402 of device 'dbg' overlap ports 0x400-0x40f of device 't'; expected a free range"), (error.JsonPath, error.Message));
    }

    [Fact]
    public void TimerPortsAndSpeakerPortAreClaimed()
    {
        ProfileError error = Assert.Single(LoadErrors("""
            { "schemaVersion": 1, "cpu": { "mode": "reset" },
              "devices": [ { "id": "pit", "type": "i8254" }, { "id": "exit", "type": "debug-exit", "io": "0x61" } ] }
            """));

        Assert.Equal(("$.devices[1].io", "I/O ports 0x61-0x61 of device 'exit' overlap fixed ports 0x61-0x61 of device 'pit' (i8254); expected a free range"), (error.JsonPath, error.Message));
    }

    [Fact]
    public void LoadImageInTheFirmwareShadowIsRefused()
    {
        WriteBytes("payload.bin", 16);

        ProfileError error = Assert.Single(LoadErrors("""
            { "schemaVersion": 1, "cpu": { "mode": "reset" }, "firmware": { "file": "bios.bin" },
              "load": [ { "file": "payload.bin", "address": "0xefff8" }, { "file": "payload.bin", "address": "0xdfff0" } ] }
            """));

        Assert.Equal(("$.load[0].address", "image 'payload.bin' (16 bytes at 0xefff8) overlaps the firmware's shadow 0xe0000-0xfffff; expected it outside the shadow while firmware is set"), (error.JsonPath, error.Message));
    }

    [Fact]
    public void SmallFirmwareShadowsOnlyItsOwnSize()
    {
        WriteBytes("small.bin", 64 * KiB);
        WriteBytes("payload.bin", 16);

        ProfileLoadResult result = _loader.LoadFromText("""
            { "schemaVersion": 1, "cpu": { "mode": "reset" }, "firmware": { "file": "small.bin" },
              "load": [ { "file": "payload.bin", "address": "0xe0000" } ] }
            """, "machine.json", _scratch, []);

        Assert.Empty(result.Errors);
    }

    [Fact]
    public void FileKeysAreConfigKeysAndFixedResourcesAreInRange()
    {
        foreach (DeviceTypeInfo type in DeviceCatalog.All.Values)
        {
            Assert.True(type.FileKeys.All(type.ConfigKeys.Contains), $"{type.Name}: every file key must be a config key");
            Assert.True(type.DefaultIo is null || (type.PortCount > 0 && type.DefaultIo + type.PortCount <= 0x10000), $"{type.Name}: a default base needs a port range that fits");
            Assert.All(type.FixedPorts, range => Assert.True(range.Count > 0 && range.End <= 0xffff, $"{type.Name}: fixed ports {range}"));
            Assert.All(type.FixedIrqs, line => Assert.InRange(line, 0, ProfileDefaults.MaxIrqLine));
            Assert.True(type.FixedIrqs.Count == 0 || type.Irq == IrqUse.None, $"{type.Name}: a type with fixed lines takes no irq");
        }
    }

    [Fact]
    public void CatalogMarksThePlatformTypesAsSpecified()
    {
        string[] inlineOnly = DeviceCatalog.All.Values.Where(t => t.InlineOnly).Select(t => t.Name).Order().ToArray();
        string[] busMasters = DeviceCatalog.All.Values.Where(t => t.BusMaster).Select(t => t.Name).Order().ToArray();

        Assert.Equal(["i440fx", "i8259", "ioapic"], inlineOnly);
        Assert.Equal(["fw-cfg", "piix3-ide"], busMasters);
        Assert.Equal(["primary-master", "primary-slave", "secondary-master", "secondary-slave"], Piix3Ide.Type.FileKeys);
        Assert.Empty(FwCfg.Type.FileKeys);
        Assert.True(DebugConsole.Type.CanBeConsole);
        Assert.All(new[] { Uart16550.Type, DebugExit.Type, TestDevice.Type, BenchRegister.Type },
            type => Assert.Equal((null, false, false), (type.DefaultIo, type.InlineOnly, type.BusMaster)));
    }

    private MachineProfile Load(string text)
    {
        ProfileLoadResult result = _loader.LoadFromText(text, "machine.json", _scratch, []);
        Assert.Empty(result.Errors.Select(e => e.ToString()));
        return result.Profile!;
    }

    private IReadOnlyList<ProfileError> LoadErrors(string text)
    {
        ProfileLoadResult result = _loader.LoadFromText(text, "machine.json", _scratch, []);
        Assert.Null(result.Profile);
        return result.Errors;
    }

    private void WriteBytes(string relativePath, int length)
    {
        string path = Path.Combine(_scratch, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = new FileStream(path, FileMode.Create);
        file.SetLength(length);
    }

    private void WriteText(string relativePath, string text)
    {
        string path = Path.Combine(_scratch, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }
}
