using SplitEmu.Launch.Monitor;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Tests.Monitor;

/// <summary>What the status line of `splitemu run` says (drawing needs a terminal; formatting does not).</summary>
public sealed class StatusLineTests
{
    [Fact]
    public void Format_ShowsInstructionRate_AccessRatePerDevice_AndRestarts()
    {
        MonitorStats before = Stats(instructions: 1_000_000, com1Accesses: 100, restarts: 0, cpuState: "running");
        MonitorStats after = Stats(instructions: 3_000_000, com1Accesses: 150, restarts: 2, cpuState: "running");

        string line = StatusLine.Format(before, after, seconds: 0.5);

        Assert.Equal("4.00M instr/s | com1 100 acc/s, 2 restarts | exit 0 acc/s", line);
    }

    [Fact]
    public void Format_SaysWhenTheCpuIsPaused_AndNeverShowsNegativeRatesAfterARestart()
    {
        MonitorStats before = Stats(instructions: 5, com1Accesses: 100, restarts: 0, cpuState: "running");
        MonitorStats after = Stats(instructions: 5, com1Accesses: 3, restarts: 1, cpuState: "paused");

        string line = StatusLine.Format(before, after, seconds: 0.25);

        Assert.Equal("0 instr/s (paused) | com1 0 acc/s, 1 restarts | exit 0 acc/s", line);
    }

    private static MonitorStats Stats(long instructions, long com1Accesses, int restarts, string cpuState) => new()
    {
        Instructions = instructions,
        CpuState = cpuState,
        Devices =
        [
            new MonitorDeviceStats { Id = "com1", Reads = com1Accesses, Restarts = restarts },
            new MonitorDeviceStats { Id = "exit" },
        ],
    };
}
