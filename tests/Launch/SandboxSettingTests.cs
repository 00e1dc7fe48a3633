using SplitEmu.Guests;
using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Launch;

/// <summary>The profile's <c>sandbox</c>: strict by default, off only with a warning; the guest sees the same machine.</summary>
[Trait("Category", "Slow")] // starts processes: not in the fast tier
public sealed class SandboxSettingTests
{
    private const string Warning = "runs its device processes outside the sandbox";

    [Theory]
    [InlineData(null, "strict")]
    [InlineData("sandbox=strict", "strict")]
    [InlineData("sandbox=off", "off")]
    public void TheDefaultMachine_RunsTheSame_ConfinedOrNot_AndSaysWhich(string? setting, string expected)
    {
        using TempFolder folder = new();
        string report = folder.File("report.json");
        string[] set = setting is null ? [] : ["--set", setting];

        using SplitEmuProcess run = SplitEmuProcess.Run(["run", "--report", report, .. set]);

        Assert.Equal((HelloGuest.ExitValue << 1) | 1, run.ExitCode);
        Assert.StartsWith("Hello from SplitEmu\nChecksum: 0x", run.StandardOutput, StringComparison.Ordinal);
        RunReport read = RunReport.Read(report);
        Assert.Equal(expected, read.Devices.Single(d => d.Id == "com1").Sandbox);
        Assert.Null(read.Devices.Single(d => d.Id == "exit").Sandbox); // inline: runs in the CPU process
        Assert.Equal(expected == "off", run.StandardError.Contains(Warning, StringComparison.Ordinal));
    }
}
