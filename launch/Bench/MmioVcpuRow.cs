namespace SplitEmu.Launch.Bench;

/// <summary>One multiprocessor row of `splitemu bench mmio`: several vCPUs reading isolated bench registers at once.</summary>
public sealed record MmioVcpuRow
{
    /// <summary>vCPUs of the machine, each running the read loop.</summary>
    public required int Vcpus { get; init; }

    /// <summary>"one" (every vCPU reads the same device process) or "separate" (each its own).</summary>
    public required string Devices { get; init; }

    /// <summary>Guest reads of all vCPUs together.</summary>
    public long Accesses { get; init; }

    /// <summary>Wall time of the whole machine, start-up included, milliseconds (from its report).</summary>
    public double WallMs { get; init; }

    /// <summary>Host time between the guest's marks: from the go signal until every vCPU finished, milliseconds.</summary>
    public double LoopMs { get; init; }

    /// <summary>Accesses of all vCPUs per second of loop time.</summary>
    public double AccessesPerSecond { get; init; }

    /// <summary>This row's accesses per second / the one-vCPU row's of the same run.</summary>
    public double? VsOneVcpu { get; init; }

    /// <summary>Set when the machine failed.</summary>
    public string? Error { get; init; }
}
