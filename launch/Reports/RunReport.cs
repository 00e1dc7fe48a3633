using System.Text.Json;
using System.Text.Json.Serialization;

namespace SplitEmu.Launch.Reports;

/// <summary>What `splitemu run --report FILE` writes: how the machine ended and what each device served.</summary>
public sealed record RunReport
{
    /// <summary>Machine name from the profile.</summary>
    public required string Machine { get; init; }

    /// <summary>The profile file, or "built-in default".</summary>
    public required string Profile { get; init; }

    /// <summary>How the machine ended.</summary>
    public required ExitSection Exit { get; init; }

    /// <summary>Guest instructions executed.</summary>
    public long Instructions { get; init; }

    /// <summary>Wall time from start of the CPU process to the end of the machine, in milliseconds.</summary>
    public double WallTimeMs { get; init; }

    /// <summary>Process id of the CPU process.</summary>
    public int CpuProcessId { get; init; }

    /// <summary>Per device.</summary>
    public required IReadOnlyList<DeviceSection> Devices { get; init; }

    /// <summary>Writes the report as indented JSON.</summary>
    public void WriteTo(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, s_options) + "\n");

    /// <summary>Reads a report (tests, tools).</summary>
    public static RunReport Read(string path) =>
        JsonSerializer.Deserialize<RunReport>(File.ReadAllText(path), s_options) ?? throw new InvalidDataException($"{path} is not a run report");

    private static readonly JsonSerializerOptions s_options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>How the machine ended.</summary>
public sealed record ExitSection
{
    /// <summary>Why, e.g. "guest-exit".</summary>
    public required string Reason { get; init; }

    /// <summary>splitemu's exit code.</summary>
    public int Code { get; init; }

    /// <summary>The value the guest wrote to the debug-exit device.</summary>
    public long? GuestValue { get; init; }

    /// <summary>Detail (fault, signal).</summary>
    public string? Detail { get; init; }
}

/// <summary>One device.</summary>
public sealed record DeviceSection
{
    /// <summary>Device id.</summary>
    public required string Id { get; init; }

    /// <summary>Model type.</summary>
    public required string Type { get; init; }

    /// <summary>"inline", "isolated" or "group".</summary>
    public required string Placement { get; init; }

    /// <summary>Process group name, for grouped devices.</summary>
    public string? Group { get; init; }

    /// <summary>Process that ran the device's code.</summary>
    public int ProcessId { get; init; }

    /// <summary>Accesses the device served.</summary>
    public required AccessSection Accesses { get; init; }

    /// <summary>Bytes on its output stream.</summary>
    public long OutputBytes { get; init; }

    /// <summary>Last lines its process printed (kept for crashes).</summary>
    public IReadOnlyList<string>? ProcessOutput { get; init; }
}

/// <summary>Access counters.</summary>
public sealed record AccessSection
{
    /// <summary>Reads served.</summary>
    public long Reads { get; init; }

    /// <summary>Writes served.</summary>
    public long Writes { get; init; }

    /// <summary>Reads plus writes.</summary>
    public long Total => Reads + Writes;

    /// <summary>Accesses that ended as bus errors.</summary>
    public long BusErrors { get; init; }
}
