using SplitEmu.CpuHost.Cpu.Benchmarks;

namespace SplitEmu.Tests.Cpu;

/// <summary>The benchmark entry point works; its speed is measured by running it, never asserted here.</summary>
public sealed class CpuBenchmarkTests
{
    [Fact]
    public void RunComputeLoop_ShortRun_RetiresInstructionsAndReportsRates()
    {
        BenchResult result = CpuBenchmark.RunComputeLoop(instructions: 100_000);

        Assert.True(result.Instructions > 0);
        Assert.True(result.Mips > 0);
        Assert.True(result.NativeBaselineMips > 0);
    }

    [Fact]
    public void RunX87Kernel_ShortRun_RetiresInstructionsWithoutFaulting()
    {
        BenchResult result = CpuBenchmark.RunX87Kernel(instructions: 100_000);

        Assert.True(result.Instructions >= 100_000 / 5 - 10, $"the kernel stopped early after {result.Instructions} instructions (a fault?)");
        Assert.True(result.NativeBaselineMips > 0);
    }
}
