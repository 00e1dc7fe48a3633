using System.Text.Json;
using System.Text.Json.Serialization;

namespace SplitEmu.Launch.Bench;

/// <summary>One row of `splitemu bench transport`.</summary>
public sealed record TransportBenchRow
{
    /// <summary>ring-handoff, ring-hybrid, ring-spin, socket or json-rpc.</summary>
    public required string Transport { get; init; }

    /// <summary>"read", "posted-write x16" or "posted-write x64".</summary>
    public required string Operation { get; init; }

    /// <summary>Operations measured.</summary>
    public long Operations { get; init; }

    /// <summary>Median round trip (reads) or cost per write within a batch (posted writes), microseconds.</summary>
    public double P50Us { get; init; }

    /// <summary>99th percentile, microseconds.</summary>
    public double P99Us { get; init; }

    /// <summary>99.9th percentile, microseconds.</summary>
    public double P999Us { get; init; }

    /// <summary>Operations per second over the whole row (posted writes: until the device handled the last one).</summary>
    public double OpsPerSecond { get; init; }

    /// <summary>Against the socket transport's row of the same operation in the same run: socket p50 / this p50 for reads, this ops/s / socket ops/s for posted writes (higher is better).</summary>
    public double? VsSocket { get; init; }

    /// <summary>Set when the row could not be measured (the device failed, a call failed).</summary>
    public string? Error { get; init; }
}

/// <summary>What `splitemu bench transport --json FILE` writes.</summary>
public sealed record TransportBenchReport
{
    /// <summary>same-core, two-cores or none.</summary>
    public required string Pin { get; init; }

    /// <summary>Read round trips per row.</summary>
    public int Iterations { get; init; }

    /// <summary>Cores of the machine.</summary>
    public int Cores { get; init; }

    /// <summary>UTC time of the run.</summary>
    public DateTime StartedUtc { get; init; }

    /// <summary>The 1, 5 and 15 minute load averages at the end of the run.</summary>
    public string? LoadAverage { get; init; }

    /// <summary>The rows.</summary>
    public required IReadOnlyList<TransportBenchRow> Rows { get; init; }

    /// <summary>Writes the report as indented JSON.</summary>
    public void WriteTo(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, BenchJson.Options) + "\n");
}

/// <summary>JSON settings of the benchmark reports.</summary>
internal static class BenchJson
{
    /// <summary>Web defaults, indented, nulls left out.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
