using System.Text.Json;
using SplitEmu.Launch.Profiles;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Profiles;

/// <summary>The profiles in <c>profiles/</c> and the built-in default load, validate and describe the machines they claim to.</summary>
public sealed class ShippedProfileTests
{
    /// <summary>The test output folder stands in for the splitemu folder: the build copies guests/hello.bin there too.</summary>
    private readonly ProfileLoader _loader = new(ProfileTestPaths.SplitemuDirectory, ProfileTestPaths.RepositoryRoot);

    private static readonly string[] s_shippedFiles =
        Directory.GetFiles(ProfileTestPaths.ShippedProfiles, "*.json").Select(f => Path.GetFileName(f)).Order().ToArray();

    /// <summary>
    /// Shipped profiles whose files are all here. linux.json (and linux-smp.json, which extends it) name a kernel
    /// fetched from Debian on first use (network): Guests/LinuxBootTests validates them, outside the fast tier.
    /// </summary>
    public static TheoryData<string> ShippedProfileFiles { get; } = new(s_shippedFiles.Where(f => f is not ("linux.json" or "linux-smp.json")));

    [Theory]
    [MemberData(nameof(ShippedProfileFiles))]
    public void ShippedProfileLoadsAndValidates(string file)
    {
        ProfileLoadResult result = _loader.Load(Path.Combine("profiles", file), []);

        Assert.Empty(result.Errors.Select(e => e.ToString()));
        Assert.NotNull(result.Profile);
    }

    [Fact]
    public void ShippedProfilesIncludeTheThreeDocumentedOnes()
    {
        Assert.Superset(new HashSet<string> { "default.json", "inline-vs-isolated.json", "crash-demo.json" }, s_shippedFiles.ToHashSet());
    }

    [Fact]
    public void EmbeddedDefaultIsTheDocumentedDefaultMachine()
    {
        ProfileLoadResult result = _loader.LoadEmbeddedDefault([]);

        MachineProfile profile = Assert.IsType<MachineProfile>(result.Profile);
        Assert.Equal(ProfileLoader.EmbeddedDefaultName, result.SourceName);
        Assert.Equal(1, profile.SchemaVersion);
        Assert.Equal("default", profile.Name);
        Assert.Equal(16, profile.Memory.SizeMiB);
        LoadConfig image = Assert.Single(profile.Load);
        Assert.Equal(Path.Combine(ProfileTestPaths.SplitemuDirectory, "guests", "hello.bin"), image.File);
        Assert.Equal(ImageFormat.Flat, image.Format);
        Assert.Equal(0x100000UL, image.Address);
        Assert.Equal(new CpuConfig { Mode = CpuStartMode.Protected32Flat, Entry = 0x100000, Stack = 0x200000 }, profile.Cpu);
        Assert.Equal("com1", profile.Console);
        Assert.Equal(2, profile.Devices.Count);
        DeviceConfig com1 = profile.Devices[0];
        Assert.Equal(("com1", "uart16550", (ushort?)0x3f8, (ulong?)null, (int?)4), (com1.Id, com1.Type, com1.Io, com1.Mmio, com1.Irq));
        Assert.Equal((Placement.Isolated, (string?)null, WaitPolicy.Handoff, DownBehavior.Stall), (com1.Placement, com1.Group, com1.WaitPolicy, com1.WhileDown));
        DeviceConfig exit = profile.Devices[1];
        Assert.Equal(("exit", "debug-exit", (ushort?)0x501, (int?)null, Placement.Inline), (exit.Id, exit.Type, exit.Io, exit.Irq, exit.Placement));
    }

    [Fact]
    public void EmbeddedDefaultReturnsTheResolvedImagePath()
    {
        ProfileLoadResult result = _loader.LoadEmbeddedDefault([]);

        string image = Assert.Single(result.LoadImagePaths);
        Assert.True(Path.IsPathFullyQualified(image));
        Assert.True(File.Exists(image), $"{image} should exist in the test output folder");
    }

    [Fact]
    public void DefaultFileOnDiskDescribesTheSameMachineAsTheEmbeddedDefault()
    {
        ProfileLoadResult embedded = _loader.LoadEmbeddedDefault([]);
        ProfileLoadResult onDisk = _loader.Load("profiles/default.json", []);

        Assert.Equal(Json(embedded.Profile), Json(onDisk.Profile));
    }

    [Fact]
    public void InlineVsIsolatedDiffersFromDefaultOnlyInNameAndUartPlacement()
    {
        MachineProfile baseline = _loader.Load("profiles/default.json", []).Profile!;
        MachineProfile inline = _loader.Load("profiles/inline-vs-isolated.json", []).Profile!;

        MachineProfile expected = baseline with
        {
            Name = inline.Name,
            Devices = [baseline.Devices[0] with { Placement = Placement.Inline }, baseline.Devices[1]],
        };
        Assert.Equal(Json(expected), Json(inline));
    }

    [Fact]
    public void CrashDemoRestartsTheIsolatedUartOnCrash()
    {
        MachineProfile profile = _loader.Load("profiles/crash-demo.json", []).Profile!;

        DeviceConfig com1 = profile.Devices.Single(d => d.Id == "com1");
        Assert.Equal(Placement.Isolated, com1.Placement);
        Assert.Equal(RestartPolicy.OnCrash, com1.Restart.Policy);
        Assert.Equal(GiveUpAction.Fault, com1.Restart.GiveUp);
    }

    [Fact]
    public void ProfilesExtendingTheDefaultFileFindTheGuestImageInTheSplitemuFolder()
    {
        ProfileLoadResult result = _loader.Load("profiles/crash-demo.json", []);

        Assert.Equal([Path.Combine(ProfileTestPaths.SplitemuDirectory, "guests", "hello.bin")], result.LoadImagePaths);
    }

    private static string Json(MachineProfile? profile) => JsonSerializer.Serialize(profile);
}
