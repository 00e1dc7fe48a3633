using System.Globalization;

namespace SplitEmu.Launch.Bench;

/// <summary>
/// What the `bench` commands run when not told otherwise. The options' defaults and their help texts are both
/// derived from these, so the help cannot state other figures than the ones run (BenchHelpTests checks it).
/// </summary>
public static class BenchDefaults
{
    /// <summary>`--iterations` of transport (read round trips per row), mmio (guest reads per machine) and dispatch.</summary>
    public const int Iterations = 50_000;

    /// <summary>Read round trips per row of `bench remote`: an access over ssh costs about as much as a hundred over the ring.</summary>
    public const int RemoteIterations = 5_000;

    /// <summary>`bench dispatch` times this many reads per `--iterations` unit, so one round is long enough to time.</summary>
    public const int DispatchReadsPerIteration = 200;

    /// <summary>Rounds of `bench dispatch`; the best is printed.</summary>
    public const int Rounds = 5;

    /// <summary>
    /// `bench cpu --instructions`: guest instructions per run of a kernel, timed in
    /// <see cref="CpuHost.Cpu.Benchmarks.CpuBenchmark.Rounds"/> rounds of equal parts.
    /// </summary>
    public const long CpuInstructions = 40_000_000;

    /// <summary>Runs of each `bench cpu` kernel; the fastest round of all is printed.</summary>
    public const int CpuRuns = 5;

    /// <summary>`bench boot --runs`: boots per machine; the median is printed.</summary>
    public const int BootRuns = 3;

    /// <summary>`bench linux --runs`: one boot per machine (a boot takes about a minute here).</summary>
    public const int LinuxRuns = 1;

    /// <summary>Device process starts of each kind in `bench sandbox` (a native start and attach take tens of milliseconds).</summary>
    public const int SandboxRuns = 20;

    /// <summary>Device process starts of each build of the host in `bench processes`.</summary>
    public const int ProcessRuns = 10;

    /// <summary>Seconds the machine of each build runs in `bench processes` (a JIT machine is wired in about two).</summary>
    public const int ProcessMachineSeconds = 6;

    /// <summary>A count as the help texts print it: 10,000,000.</summary>
    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
