using SplitEmu.Launch.Profiles;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.Tests.Profiles;

/// <summary><c>--set path=value</c> overrides on top of the built-in default machine.</summary>
public sealed class SetOverrideTests
{
    private readonly ProfileLoader _loader = new(ProfileTestPaths.SplitemuDirectory, ProfileTestPaths.RepositoryRoot);

    [Fact]
    public void SetReplacesANumber()
    {
        Assert.Equal(32, Load("memory.sizeMiB=32").Memory.SizeMiB);
    }

    [Fact]
    public void SetAddressesADeviceById()
    {
        Assert.Equal(Placement.Inline, Load("devices.com1.placement=inline").Devices[0].Placement);
    }

    [Fact]
    public void SetAddressesADeviceByIndex()
    {
        Assert.Equal(5, Load("devices[0].irq=5").Devices[0].Irq);
    }

    [Fact]
    public void SetAcceptsAHexStringForAnAddress()
    {
        Assert.Equal(0x100010UL, Load("cpu.entry=0x100010").Cpu.Entry);
    }

    [Fact]
    public void SetCreatesMissingObjectsOnThePath()
    {
        Assert.Equal(RestartPolicy.Never, Load("devices.com1.restart.policy=never").Devices[0].Restart.Policy);
    }

    [Fact]
    public void SetAcceptsAJsonObjectAsTheValue()
    {
        Assert.Equal(new RestartConfig { MaxRestarts = 2, WindowMs = 500 }, Load("""devices.com1.restart={"maxRestarts": 2, "windowMs": 500}""").Devices[0].Restart);
    }

    [Fact]
    public void SetNullRemovesADevice()
    {
        Assert.Equal(["com1"], Load("devices.exit=null").Devices.Select(d => d.Id));
    }

    [Fact]
    public void LaterOverridesWinOverEarlierOnes()
    {
        Assert.Equal(64, Load("memory.sizeMiB=32", "memory.sizeMiB=64").Memory.SizeMiB);
    }

    [Fact]
    public void OverridesApplyToProfileFilesToo()
    {
        ProfileLoadResult result = _loader.Load("profiles/inline-vs-isolated.json", ["devices.com1.placement=isolated"]);

        Assert.Equal(Placement.Isolated, result.Profile!.Devices[0].Placement);
    }

    public static TheoryData<string, string> BadOverrides { get; } = new()
    {
        { "devices.com9.irq=5", "--set devices.com9.irq=5: $.devices: no entry with id 'com9'; expected one of: com1, exit" },
        { "devices[7].irq=5", "--set devices[7].irq=5: $.devices: index 7 is out of range; expected 0-1" },
        { "memory.sizeMiB", "--set memory.sizeMiB: expected path=value, for example memory.sizeMiB=32 or devices.com1.placement=inline" },
        { "=5", "--set =5: expected path=value, for example memory.sizeMiB=32 or devices.com1.placement=inline" },
        { "memory..sizeMiB=5", "--set memory..sizeMiB=5: 'memory..sizeMiB' is not a property path; expected names joined by dots with optional [index], for example devices[0].irq" },
        { "memory.size=32", "--set memory.size=32: $.memory.size: unknown property 'size'; expected one of: sizeMiB" },
        { "memory.sizeMiB.low=1", "--set memory.sizeMiB.low=1: $.memory.sizeMiB: is a number, so 'low' cannot be set inside it; expected a path through objects and arrays" },
        { "devices.com1.irq=99", "--set devices.com1.irq=99: $.devices[0].irq: IRQ 99 is out of range; expected a line 0-15" },
        { "devices.com1.placement=sideways", "--set devices.com1.placement=sideways: $.devices[0].placement: 'sideways' is not a valid placement; expected one of: inline, isolated, group" },
        { "memory.sizeMiB=lots", "--set memory.sizeMiB=lots: $.memory.sizeMiB: 'lots' is not a hex number; expected an integer or a hex string starting with 0x" },
        { "schemaVersion=2", "--set schemaVersion=2: 'schemaVersion' describes the profile file and cannot be overridden; expected a machine property such as memory.sizeMiB" },
        // The number is accepted as the text "115200" (else the error would be about its type); uart16550 reads no keys yet.
        { "devices.com1.config.baud=115200", "--set devices.com1.config.baud=115200: $.devices[0].config.baud: unknown config key 'baud' for device type uart16550; expected no config keys (device type uart16550 reads none)" },
        { "console=exit", "--set console=exit: $.console: device 'exit' is a debug-exit, which cannot be a console; expected the id of a uart16550 or debugcon device" },
    };

    [Theory]
    [MemberData(nameof(BadOverrides))]
    public void BadOverrideIsReportedWithTheOverrideAsItsFile(string setOverride, string expected)
    {
        ProfileLoadResult result = _loader.LoadEmbeddedDefault([setOverride]);

        Assert.Equal([expected], result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void EveryBadOverrideIsReportedInOneRun()
    {
        ProfileLoadResult result = _loader.LoadEmbeddedDefault(["memory.sizeMiB=0", "nonsense", "devices.com1.irq=16"]);

        Assert.Equal(3, result.Errors.Count);
    }

    [Fact]
    public void BadOverridesAreReportedEvenWhenTheProfileFileIsMissing()
    {
        ProfileLoadResult result = _loader.Load("profiles/no-such.json", ["nonsense"]);

        Assert.Equal(
            ["profiles/no-such.json: profile profiles/no-such.json not found; expected a path to a JSON profile", "--set nonsense: expected path=value, for example memory.sizeMiB=32 or devices.com1.placement=inline"],
            result.Errors.Select(e => e.ToString()));
    }

    private MachineProfile Load(params string[] overrides)
    {
        ProfileLoadResult result = _loader.LoadEmbeddedDefault(overrides);
        Assert.Empty(result.Errors.Select(e => e.ToString()));
        return result.Profile!;
    }
}
