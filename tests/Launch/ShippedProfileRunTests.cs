using SplitEmu.Guests;
using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Infrastructure;
using SplitEmu.Tests.Profiles;

namespace SplitEmu.Tests.Launch;

/// <summary>Every shipped profile runs as a user would run it, and its guest says what the default guest says.</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class ShippedProfileRunTests
{
    /// <summary>
    /// Shipped profiles that run the hello guest (firmware and kernel profiles boot other guests: see
    /// Guests/SeaBiosBootTests and Guests/LinuxBootTests).
    /// </summary>
    public static TheoryData<string> ShippedProfiles { get; } =
        new(Directory.EnumerateFiles(ProfileTestPaths.ShippedProfiles, "*.json").Where(RunsTheHelloGuest).Select(Path.GetFileName).Order()!);

    /// <summary>Whether neither the profile at <paramref name="path"/> nor one it extends names firmware or a kernel.</summary>
    private static bool RunsTheHelloGuest(string path)
    {
        using System.Text.Json.JsonDocument profile = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        System.Text.Json.JsonElement root = profile.RootElement;
        if (root.TryGetProperty("firmware", out _) || root.TryGetProperty("kernel", out _))
        {
            return false;
        }

        return !root.TryGetProperty("extends", out System.Text.Json.JsonElement extends)
            || RunsTheHelloGuest(Path.Combine(Path.GetDirectoryName(path)!, extends.GetString()!));
    }

    [Theory]
    [MemberData(nameof(ShippedProfiles))]
    public void ShippedProfile_Runs_AndItsGuestEndsTheMachine(string file)
    {
        using TempFolder folder = new();
        string report = folder.File("report.json");

        using SplitEmuProcess run = SplitEmuProcess.Run("run", Path.Combine(ProfileTestPaths.ShippedProfiles, file), "--report", report, "--timeout", "120");

        Assert.Equal((HelloGuest.ExitValue << 1) | 1, run.ExitCode);
        Assert.StartsWith("Hello from SplitEmu\nChecksum: 0x", run.StandardOutput, StringComparison.Ordinal);
        Assert.Equal("guest-exit", RunReport.Read(report).Exit.Reason);
    }

    [Fact]
    public void CrashDemo_CrashesItsUart_AndTheOutputIsTheDefaultMachines()
    {
        using TempFolder folder = new();
        string report = folder.File("report.json");
        using SplitEmuProcess reference = SplitEmuProcess.Run("run");

        using SplitEmuProcess run = SplitEmuProcess.Run("run", Path.Combine(ProfileTestPaths.ShippedProfiles, "crash-demo.json"), "--report", report);

        Assert.Equal(reference.StandardOutput, run.StandardOutput);
        Assert.Equal(5, RunReport.Read(report).Devices.Single(d => d.Id == "com1").Restarts);
    }
}
