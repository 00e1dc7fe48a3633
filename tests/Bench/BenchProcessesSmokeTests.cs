using System.Globalization;
using System.Text.RegularExpressions;
using SplitEmu.Launch.Supervision;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Bench;

/// <summary>`bench processes` starts device processes on both builds of the host and runs a machine on each (no timing asserts).</summary>
[Trait("Category", "Slow")] // starts processes: not in the fast tier
public sealed partial class BenchProcessesSmokeTests
{
    [Fact]
    public void BenchProcesses_PrintsBothHosts_AndAMachineOfEach()
    {
        using SplitEmuProcess run = SplitEmuProcess.Start("bench", "processes", "--runs", "1", "--machine-seconds", "3");
        run.WaitForExit(TestDeadlines.Seconds(180)); // four process starts and two machines: room for a loaded machine

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("1 starts of each", run.StandardOutput, StringComparison.Ordinal);
        // The native host exists where the build had a C toolchain (CI installs one); without it, the JIT row alone.
        bool native = HostExecutables.Kind(HostExecutables.DeviceHost) == "native";
        foreach (string kind in native ? new[] { "jit", "native" } : ["jit"])
        {
            Assert.Matches(new Regex($@"\n  {kind} +( +\d+\.\d ms){{4}} +\d+\.\d MiB\n"), run.StandardOutput);
            Match machine = new Regex($@"\n  {kind} +(\d+) +(\d+) +(\d+) MiB\n").Match(run.StandardOutput);
            Assert.True(machine.Success, run.StandardOutput);
            // The launcher, the CPU process and the four device processes at least (the spares may still start).
            Assert.InRange(int.Parse(machine.Groups[1].Value, CultureInfo.InvariantCulture), 6, 8);
            Assert.True(int.Parse(machine.Groups[3].Value, CultureInfo.InvariantCulture) > 0, run.StandardOutput);
        }

        if (native)
        {
            Assert.Matches(RatioLine(), run.StandardOutput);
        }
        else
        {
            Assert.Contains("no native device host", run.StandardOutput, StringComparison.Ordinal);
        }
    }

    [GeneratedRegex(@"native / jit: start \d+\.\d\dx, attach \d+\.\d\dx, RSS \d+\.\d\dx")]
    private static partial Regex RatioLine();
}
