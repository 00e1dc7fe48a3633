using SplitEmu.CpuHost.Cpu.Benchmarks;
using SplitEmu.Launch.Bench;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Bench;

/// <summary>The dispatch and interpreter benchmarks run and print their figures next to their baselines (no timing asserts).</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class DispatchAndCpuBenchTests
{
    [Fact]
    public void BenchDispatch_PrintsTheOverheadNextToTheBareHandlerCall()
    {
        using SplitEmuProcess run = SplitEmuProcess.Run("bench", "dispatch", "--iterations", "500");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("bare handler call (baseline)", run.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("dispatch overhead", run.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void BenchDispatch_ByDefault_RunsTheReadsAndRoundsItsHelpStates()
    {
        using SplitEmuProcess run = SplitEmuProcess.Run("bench", "dispatch");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains(
            $"{BenchDefaults.Count(BenchDefaults.Iterations * (long)BenchDefaults.DispatchReadsPerIteration)} reads per round, best of {BenchDefaults.Rounds}",
            run.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void BenchCpu_PrintsBothModes_TheNativeBaseline_AndThePeer()
    {
        // One run for all the checks: each run boots QEMU as the peer.
        using SplitEmuProcess run = SplitEmuProcess.Run("bench", "cpu", "--instructions", "1000000");

        Assert.Equal(0, run.ExitCode);
        foreach (string mode in (string[])["interpreter", "translator"])
        {
            Assert.Contains(
                $"bench cpu: {mode}: fastest of {BenchDefaults.CpuRuns * CpuBenchmark.Rounds} rounds: {BenchDefaults.Count(CpuBenchmark.InstructionsPerRound(1_000_000))} guest instructions",
                run.StandardOutput, StringComparison.Ordinal);
        }
        Assert.Matches(@"\d+\.\d MIPS \(.* of native C#", run.StandardOutput);
        Assert.Matches(@"translation: \d+ blocks", run.StandardOutput);
        Assert.Matches(@"QEMU \S+ TCG \(peer\): [\d,]+ guest instructions of the same loop in \d+ ms: [\d.]+ MIPS; translator / QEMU = [\d.]+x", run.StandardOutput);
    }
}
