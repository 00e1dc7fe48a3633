using System.Text.Json;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Bench;

/// <summary>`splitemu bench boot` boots SeaBIOS each way and QEMU as the peer, and prints the ratios (no timing asserts).</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class BenchBootSmokeTests
{
    [Fact]
    public void BenchBoot_OneRunEach_PrintsEveryMachine_AndTheRatioToQemu()
    {
        using TempFolder folder = new();
        string json = folder.File("bench.json");

        using SplitEmuProcess bench = SplitEmuProcess.Start("bench", "boot", "--runs", "1", "--json", json);
        bench.WaitForExit(TestDeadlines.Seconds(360)); // five boots, several processes each: room for a loaded machine

        Assert.True(bench.ExitCode == 0, $"exit {bench.ExitCode}\nstdout:\n{bench.StandardOutput}\nstderr:\n{bench.StandardError}");
        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement[] rows = [.. report.RootElement.GetProperty("rows").EnumerateArray()];
        Assert.Equal(["all inline", "IDE inline", "IDE isolated (shipped)", "shipped, interpreter only"], rows[..4].Select(r => r.GetProperty("machine").GetString()));
        Assert.Matches(@"^QEMU \d+\.\d+\S* TCG \(peer\)$", rows[4].GetProperty("machine").GetString());
        Assert.Equal(5, rows.Length);
        // Each row says how its vCPU ran: the shipped rows translate, the last one was told not to.
        Assert.Equal(["translator", "translator", "translator", "interpreter"], rows[..4].Select(r => r.GetProperty("cpu").GetString()));
        Assert.All(rows, row => Assert.False(row.TryGetProperty("error", out _), row.ToString()));
        Assert.All(rows, row => Assert.True(row.GetProperty("startToLineMs").GetDouble() > 0, row.ToString()));
        Assert.All(rows, row => Assert.True(row.GetProperty("vsQemu").GetDouble() > 0, row.ToString()));
        Assert.All(rows[..4], row => Assert.True(row.GetProperty("ideAccesses").GetInt64() > 256, row.ToString()));
        Assert.Contains("vs QEMU", bench.StandardOutput, StringComparison.Ordinal);
    }
}
