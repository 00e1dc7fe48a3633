using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Bench;

/// <summary>`splitemu bench mmio` runs its machines through `splitemu run` and prints ns per access (no timing asserts).</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class BenchMmioSmokeTests
{
    [Fact]
    public void BenchMmio_WithFewIterations_RunsEveryMachine()
    {
        using SplitEmuProcess bench = SplitEmuProcess.Start("bench", "mmio", "--iterations", "200");
        bench.WaitForExit(TestDeadlines.Seconds(180)); // several processes start: room for a loaded machine

        Assert.True(bench.ExitCode == 0, $"exit {bench.ExitCode}\nstdout:\n{bench.StandardOutput}\nstderr:\n{bench.StandardError}");
        foreach (string machine in new[] { "inline", "isolated-handoff", "isolated-hybrid", "isolated-spin", "isolated-posted" })
        {
            Assert.Contains(machine, bench.StandardOutput, StringComparison.Ordinal);
        }

        foreach (string access in new[] { "read bench-register", "write debugcon", "write uart16550 THR" })
        {
            Assert.Contains(access, bench.StandardOutput, StringComparison.Ordinal);
        }

        Assert.Contains("ns/access", bench.StandardOutput, StringComparison.Ordinal);
        foreach (string vcpuRow in new[] { "1 one", "2 one", "2 separate", "4 one", "4 separate" })
        {
            Assert.Matches($@"(?m)^\s+{vcpuRow}\s+\d+\s", bench.StandardOutput); // every multiprocessor machine ran to its marks
        }

        Assert.DoesNotContain("failed", bench.StandardOutput, StringComparison.Ordinal);
    }
}
