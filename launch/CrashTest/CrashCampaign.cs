using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using SplitEmu.Launch.Reports;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.Launch.CrashTest;

/// <summary>
/// A crash-test campaign: a reference run without crashes, then runs of the same machine in which one device's
/// process is killed with SIGKILL while guest accesses are in flight, spread evenly over its accesses, until the
/// requested number of crashes happened. Each run's console output and exit code are compared with the
/// reference; each crash's detection, restart, restore and guest-blocked times are collected.
/// </summary>
public sealed class CrashCampaign(MachineProfile profile, string profileName, string deviceId, TextWriter log)
{
    /// <summary>A run may not take longer than this.</summary>
    private static readonly TimeSpan s_runTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Runs the campaign.</summary>
    public async Task<CampaignReport> RunAsync(int crashes, CancellationToken cancellationToken)
    {
        RunResult reference = await RunOnceAsync(profile, cancellationToken).ConfigureAwait(false);
        DeviceSection target = reference.Report.Devices.Single(d => d.Id == deviceId);
        long accesses = target.Accesses.Total;
        if (accesses == 0)
        {
            throw new InvalidOperationException($"the guest never accessed device '{deviceId}': nothing to crash");
        }

        log.WriteLine($"crash-test: reference run: exit {reference.ExitCode}, {reference.Output.Length} console bytes, {accesses} accesses to {deviceId}, device processes on the {HostExecutables.Kind(HostExecutables.DeviceHost)} host");
        List<CampaignRun> runs = [];
        int remaining = crashes;
        while (remaining > 0)
        {
            // Spread this run's crashes evenly over the device's accesses; at most one per access.
            int thisRun = (int)Math.Min(remaining, accesses);
            long every = Math.Max(1, accesses / thisRun);
            RunResult result = await RunOnceAsync(WithCrashes(every, thisRun), cancellationToken).ConfigureAwait(false);
            DeviceSection device = result.Report.Devices.Single(d => d.Id == deviceId);
            IReadOnlyList<CrashSection> seen = device.Crashes ?? [];
            runs.Add(new CampaignRun
            {
                EveryAccesses = every,
                Crashes = seen,
                ExitCode = result.ExitCode,
                OutputExact = result.Output.AsSpan().SequenceEqual(reference.Output),
                ConsoleDuplicatesDropped = result.Report.ConsoleDuplicatesDropped,
                BusErrors = device.Accesses.BusErrors,
                GaveUp = device.GaveUp,
                Output = result.Output.AsSpan().SequenceEqual(reference.Output) ? null : Encoding.UTF8.GetString(result.Output),
            });
            log.WriteLine($"crash-test: run {runs.Count}: {seen.Count} crashes (every {every} accesses), output {(runs[^1].OutputExact ? "exact" : "DIFFERENT")}, exit {result.ExitCode}");
            if (seen.Count == 0)
            {
                break; // no progress: the injection cannot fire on this machine
            }

            remaining -= seen.Count;
        }

        return new CampaignReport
        {
            Profile = profileName,
            Device = deviceId,
            RequestedCrashes = crashes,
            ReferenceExitCode = reference.ExitCode,
            ReferenceOutputBytes = reference.Output.Length,
            Runs = runs,
        };
    }

    /// <summary>The profile with crash injection on the target device and a restart policy that lets the campaign finish.</summary>
    private MachineProfile WithCrashes(long every, int count) => profile with
    {
        Devices = profile.Devices.Select(d => d.Id != deviceId ? d : d with
        {
            Crash = new CrashConfig { EveryAccesses = every, MaxCrashes = count },
            // The campaign measures recovery, not the policy's back-off or limits.
            Restart = d.Restart with { Policy = RestartPolicy.OnCrash, MaxRestarts = count + 1, WindowMs = int.MaxValue, BackoffMs = 0 },
        }).ToArray(),
    };

    private async Task<RunResult> RunOnceAsync(MachineProfile machine, CancellationToken cancellationToken)
    {
        using MemoryStream console = new();
        RunOutcome outcome = await MachineRun.RunToEndAsync(machine, profileName, new RunOptions(null, s_runTimeout) { ReportRequestedKills = false }, console, log, cancellationToken).ConfigureAwait(false);
        return new RunResult(outcome.ExitCode, console.ToArray(), outcome.Report ?? throw new InvalidOperationException("the machine did not start"));
    }

    private sealed record RunResult(int ExitCode, byte[] Output, RunReport Report);
}

/// <summary>What a campaign found.</summary>
public sealed record CampaignReport
{
    /// <summary>The profile.</summary>
    public required string Profile { get; init; }

    /// <summary>The device whose process was killed.</summary>
    public required string Device { get; init; }

    /// <summary>Which build of the device host its processes ran: "native" (NativeAOT) or "jit" (docs/processes.md).</summary>
    public string Host { get; init; } = HostExecutables.Kind(HostExecutables.DeviceHost);

    /// <summary>Crashes asked for.</summary>
    public int RequestedCrashes { get; init; }

    /// <summary>Exit code of the crash-free run.</summary>
    public int ReferenceExitCode { get; init; }

    /// <summary>Console bytes of the crash-free run.</summary>
    public int ReferenceOutputBytes { get; init; }

    /// <summary>The crash runs.</summary>
    public required IReadOnlyList<CampaignRun> Runs { get; init; }

    /// <summary>Crashes that happened.</summary>
    public int Crashes => Runs.Sum(r => r.Crashes.Count);

    /// <summary>Whether every run printed exactly what the reference printed and ended the same way.</summary>
    public bool AllExact => Runs.All(r => r.OutputExact && r.ExitCode == ReferenceExitCode);

    /// <summary>Accesses that ended as bus errors (lost to the guest).</summary>
    public long AccessesLost => Runs.Sum(r => r.BusErrors);

    /// <summary>Detection times (ms).</summary>
    public Percentiles Detect => Percentiles.Of(Runs.SelectMany(r => r.Crashes).Select(c => c.DetectMs));

    /// <summary>Restart times (ms).</summary>
    public Percentiles Restart => Percentiles.Of(Runs.SelectMany(r => r.Crashes).Select(c => c.RestartMs));

    /// <summary>Restore times (ms).</summary>
    public Percentiles Restore => Percentiles.Of(Runs.SelectMany(r => r.Crashes).Select(c => c.RestoreMs));

    /// <summary>Kill to guest unblocked (ms).</summary>
    public Percentiles GuestBlocked => Percentiles.Of(Runs.SelectMany(r => r.Crashes).Select(c => c.GuestBlockedMs));

    /// <summary>A human summary.</summary>
    public string Summary()
    {
        StringBuilder text = new();
        text.AppendLine($"crash-test {Profile}, device {Device}: {Crashes} crashes in {Runs.Count} runs (asked {RequestedCrashes})");
        text.AppendLine($"  guest output exact in {Runs.Count(r => r.OutputExact)}/{Runs.Count} runs; exit codes as reference in {Runs.Count(r => r.ExitCode == ReferenceExitCode)}/{Runs.Count}");
        text.AppendLine($"  accesses lost (bus errors): {AccessesLost}; replayed console bytes dropped as duplicates: {Runs.Sum(r => r.ConsoleDuplicatesDropped)}");
        text.AppendLine($"  {"",-22}{"p50",10}{"p99",10}{"max",10}  (ms)");
        text.AppendLine(Detect.Row("detect"));
        text.AppendLine(Restart.Row("restart (process up)"));
        text.AppendLine(Restore.Row("restore (replay)"));
        text.AppendLine(GuestBlocked.Row("guest blocked"));
        return text.ToString();
    }

    /// <summary>Writes the report as JSON.</summary>
    public void WriteTo(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, s_options) + "\n");

    private static readonly JsonSerializerOptions s_options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>One run of a campaign.</summary>
public sealed record CampaignRun
{
    /// <summary>Crash every this many accesses.</summary>
    public long EveryAccesses { get; init; }

    /// <summary>The crashes and their recoveries.</summary>
    public required IReadOnlyList<CrashSection> Crashes { get; init; }

    /// <summary>splitemu's exit code.</summary>
    public int ExitCode { get; init; }

    /// <summary>Whether the console output equals the reference run's.</summary>
    public bool OutputExact { get; init; }

    /// <summary>Replayed console bytes the launcher dropped.</summary>
    public long ConsoleDuplicatesDropped { get; init; }

    /// <summary>Accesses to the device that ended as bus errors.</summary>
    public long BusErrors { get; init; }

    /// <summary>Why restarting was given up, if it was.</summary>
    public string? GaveUp { get; init; }

    /// <summary>The console output, when it differed from the reference.</summary>
    public string? Output { get; init; }
}

/// <summary>p50, p99 and max of a set of times.</summary>
public sealed record Percentiles(double? P50, double? P99, double? Max, int Count)
{
    /// <summary>Of the values that are known.</summary>
    public static Percentiles Of(IEnumerable<double?> values)
    {
        double[] known = values.Where(v => v is not null).Select(v => v!.Value).Order().ToArray();
        return known.Length == 0
            ? new Percentiles(null, null, null, 0)
            : new Percentiles(known[known.Length / 2], known[Math.Min(known.Length - 1, (int)(known.Length * 0.99))], known[^1], known.Length);
    }

    /// <summary>A table row.</summary>
    public string Row(string name) => $"  {name,-22}{Format(P50),10}{Format(P99),10}{Format(Max),10}  n={Count}";

    private static string Format(double? value) => value is double v ? v.ToString("F1", System.Globalization.CultureInfo.InvariantCulture) : "-";
}
