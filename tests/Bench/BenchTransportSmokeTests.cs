using System.Text.Json;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Bench;

/// <summary>`splitemu bench transport` runs end to end with real processes and prints its table (no timing asserts).</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class BenchTransportSmokeTests
{
    /// <summary>Few iterations: this checks that every row runs, not how fast.</summary>
    private const string Iterations = "200";

    [Fact]
    public void BenchTransport_WithFewIterations_PrintsEveryRow_AndWritesJson()
    {
        using TempFolder folder = new();
        string json = folder.File("bench.json");

        using SplitEmuProcess bench = SplitEmuProcess.Start("bench", "transport", "--iterations", Iterations, "--pin", "none", "--json", json);
        bench.WaitForExit(TestDeadlines.Seconds(180)); // several processes start: room for a loaded machine

        Assert.True(bench.ExitCode == 0, $"exit {bench.ExitCode}\nstdout:\n{bench.StandardOutput}\nstderr:\n{bench.StandardError}");
        foreach (string transport in new[] { "ring-handoff", "ring-hybrid", "ring-spin", "socket", "json-rpc" })
        {
            Assert.Contains(transport, bench.StandardOutput, StringComparison.Ordinal);
        }

        Assert.Contains("vs socket", bench.StandardOutput, StringComparison.Ordinal);
        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement rows = report.RootElement.GetProperty("rows");
        Assert.Equal(15, rows.GetArrayLength()); // 5 transports x (read, posted x16, posted x64)
        Assert.All(rows.EnumerateArray(), row => Assert.False(row.TryGetProperty("error", out _), row.ToString()));
    }

    [Fact]
    public void BenchTransport_WithAnUnknownPin_IsRefused()
    {
        using SplitEmuProcess bench = SplitEmuProcess.Run("bench", "transport", "--iterations", Iterations, "--pin", "sideways");

        Assert.Equal(2, bench.ExitCode);
        Assert.Contains("--pin", bench.StandardError, StringComparison.Ordinal);
    }
}
