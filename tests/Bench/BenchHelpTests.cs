using System.CommandLine;
using SplitEmu.CpuHost.Cpu.Benchmarks;
using SplitEmu.Launch.Bench;
using SplitEmu.Launch.Commands;

namespace SplitEmu.Tests.Bench;

/// <summary>
/// The `bench dispatch` and `bench cpu` help texts state the figures the commands run by default (both come from
/// <see cref="BenchDefaults"/> and <see cref="CpuBenchmark"/>). In process: the fast tier.
/// </summary>
public sealed class BenchHelpTests
{
    [Fact]
    public void DispatchHelp_StatesTheReadsPerRoundAndTheRoundsItRuns()
    {
        string help = Help("bench", "dispatch");

        Assert.Contains($"means {BenchDefaults.Count(BenchDefaults.Iterations * (long)BenchDefaults.DispatchReadsPerIteration)} reads each way per round", help, StringComparison.Ordinal);
        Assert.Contains($"best of {BenchDefaults.Rounds} rounds", help, StringComparison.Ordinal);
        Assert.Contains($"[default: {BenchDefaults.Iterations}]", help, StringComparison.Ordinal);
    }

    [Fact]
    public void CpuHelp_StatesTheInstructionsPerRoundAndTheRoundsItRuns()
    {
        string help = Help("bench", "cpu");

        Assert.Contains($"rounds of {BenchDefaults.Count(CpuBenchmark.InstructionsPerRound(BenchDefaults.CpuInstructions))} instructions", help, StringComparison.Ordinal);
        Assert.Contains($"fastest of the {BenchDefaults.CpuRuns * CpuBenchmark.Rounds} rounds", help, StringComparison.Ordinal);
        Assert.Contains($"[default: {BenchDefaults.CpuInstructions}]", help, StringComparison.Ordinal);
    }

    private static string Help(params string[] command)
    {
        RootCommand root = new("splitemu") { BenchCommand.Create() };
        StringWriter output = new();
        root.Parse([.. command, "--help"]).Invoke(new InvocationConfiguration { Output = output });
        return output.ToString();
    }
}
