using System.Globalization;
using SplitEmu.Launch.Commands;
using SplitEmu.Launch.Supervision;

namespace SplitEmu.Launch.Bench;

/// <summary>
/// `splitemu bench processes`: what a device process costs on each build of the device host, in one run. Per
/// process: the start (spawn until its control connection is up), the attach (ring mapped, a test device built,
/// sandbox on) and its resident memory once attached, the JIT and native hosts alternating so that drift on a
/// shared machine hits both alike. Per machine: a machine of four isolated devices (and its pool of spares) run
/// on each build, its start-up (the report's) and the resident memory of all its processes, launcher included.
/// </summary>
internal static class ProcessesBench
{
    /// <summary>Isolated devices of the machine row: one UART and three debug consoles.</summary>
    private const int MachineDevices = 4;

    /// <summary>Runs the benchmark and prints its rows (the JIT host's alone, and a line saying why, where no native host was built).</summary>
    public static async Task<int> ExecuteAsync(int runs, int machineSeconds, TextWriter output, CancellationToken cancellationToken)
    {
        runs = Math.Max(1, runs);
        TimeSpan machineRun = TimeSpan.FromSeconds(Math.Max(1, machineSeconds));
        bool native = HostExecutables.Kind(HostExecutables.DeviceHost) == "native";

        string folder = Directory.CreateTempSubdirectory($"splitemu-{Environment.ProcessId}-bench-").FullName;
        try
        {
            Dictionary<string, (LatencySamples Start, LatencySamples Attach, List<long> RssKiB)> kinds = new() { ["jit"] = (new(runs), new(runs), []) };
            if (native)
            {
                kinds["native"] = (new(runs), new(runs), []);
            }

            for (int run = 0; run < runs; run++)
            {
                foreach (string kind in kinds.Keys)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using (HostKindScope.Use(kind))
                    {
                        await MeasureProcessAsync(folder, $"{kind}{run}", kinds[kind], cancellationToken).ConfigureAwait(false);
                    }
                }
            }

            string profilePath = WriteMachineProfile(folder);
            Dictionary<string, MachineSample> machines = [];
            foreach (string kind in kinds.Keys)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using (HostKindScope.Use(kind))
                {
                    machines[kind] = await MeasureMachineAsync(profilePath, machineRun, cancellationToken).ConfigureAwait(false);
                }
            }

            output.WriteLine($"splitemu bench processes: a device process on each build of the host, {runs} starts of each, alternating (sandbox on); load {HostLoad.Average()}");
            output.WriteLine("  host      start p50    start p90   attach p50   attach p90   RSS attached (p50)");
            foreach ((string kind, var samples) in kinds)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {kind,-7} {Ms(samples.Start, 50),9:F1} ms {Ms(samples.Start, 90),9:F1} ms {Ms(samples.Attach, 50),9:F1} ms {Ms(samples.Attach, 90),9:F1} ms {MedianKiB(samples.RssKiB) / 1024.0,12:F1} MiB"));
            }

            if (!native)
            {
                output.WriteLine($"  no native device host beside splitemu (or {HostExecutables.JitHostsVariable}=1): the JIT host alone; the native one needs a C toolchain at build time (docs/processes.md)");
            }
            else
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  native / jit: start {Ms(kinds["native"].Start, 50) / Ms(kinds["jit"].Start, 50):F2}x, attach {Ms(kinds["native"].Attach, 50) / Ms(kinds["jit"].Attach, 50):F2}x, RSS {(double)MedianKiB(kinds["native"].RssKiB) / MedianKiB(kinds["jit"].RssKiB):F2}x"));
            }

            output.WriteLine($"  a machine of {MachineDevices} isolated devices (com1 and 3 debug consoles) with its default pool of spares, {machineRun.TotalSeconds:F0} s each:");
            output.WriteLine("  host      processes   start-up ms   machine RSS (launcher, CPU, devices, spares)");
            foreach ((string kind, MachineSample machine) in machines)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {kind,-7} {machine.Processes,11} {machine.StartUpMs,13:F0} {machine.RssKiB / 1024.0,14:F0} MiB{(machine.Error is null ? "" : "  (" + machine.Error + ")")}"));
            }

            if (native && machines["jit"].RssKiB > 0)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  native / jit machine RSS: {(double)machines["native"].RssKiB / machines["jit"].RssKiB:F2}x"));
            }

            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task MeasureProcessAsync(string folder, string label, (LatencySamples Start, LatencySamples Attach, List<long> RssKiB) samples, CancellationToken cancellationToken)
    {
        await using TimedDeviceProcess process = await TimedDeviceProcess.StartAsync(
            HostExecutables.DeviceHost, folder, label, sandboxed: true, TimedDeviceProcess.BenchDevice, cancellationToken).ConfigureAwait(false);
        samples.Start.Add(process.StartTicks);
        samples.Attach.Add(process.AttachTicks);
        samples.RssKiB.Add(ResidentKiB(process.Child.ProcessId));
    }

    /// <summary>Runs the machine row's machine for <paramref name="machineRun"/>, sampling its processes' memory.</summary>
    private static async Task<MachineSample> MeasureMachineAsync(string profilePath, TimeSpan machineRun, CancellationToken cancellationToken)
    {
        if (RunnableProfile.Load(profilePath, []) is not { Profile: { } profile } loaded)
        {
            return new MachineSample(0, 0, 0, "the profile did not load");
        }

        using CancellationTokenSource sampling = new();
        int children = 0;
        long rss = 0;
        Task sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                int[] now = ChildrenOf(Environment.ProcessId);
                long total = ResidentKiB(Environment.ProcessId) + now.Sum(ResidentKiB);
                if (now.Length >= children) // the most processes the machine had: once its spares are up
                {
                    children = now.Length;
                    rss = Math.Max(rss, total);
                }

                await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
            }
        }, CancellationToken.None);
        RunOutcome outcome;
        try
        {
            outcome = await MachineRun.RunToEndAsync(profile, loaded.SourceName, new RunOptions(null, machineRun), Stream.Null, TextWriter.Null, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await sampling.CancelAsync().ConfigureAwait(false);
            await sampler.ConfigureAwait(false);
        }

        int processes = children + 1; // and the launcher
        return outcome.Report is { } report
            ? new MachineSample(processes, report.StartUpMs, rss, null)
            : new MachineSample(processes, 0, rss, $"the machine did not start (exit code {outcome.ExitCode})");
    }

    /// <summary>A profile of a guest that spins, with one isolated UART and three isolated debug consoles.</summary>
    private static string WriteMachineProfile(string folder)
    {
        string image = Path.Combine(folder, "spin.bin");
        File.WriteAllBytes(image, [0xEB, 0xFE]); // jmp $
        string consoles = string.Concat(Enumerable.Range(0, MachineDevices - 1).Select(i =>
            $$""", { "id": "dbg{{i}}", "type": "debugcon", "io": "0x{{0x700 + i:x}}", "placement": "isolated" }"""));
        string profile = Path.Combine(folder, "processes.json");
        File.WriteAllText(profile, $$"""
            {
              "schemaVersion": 1,
              "name": "bench-processes",
              "memory": { "sizeMiB": 16 },
              "load": [ { "file": "{{image}}", "format": "flat", "address": "0x100000" } ],
              "cpu": { "mode": "protected32-flat", "entry": "0x100000", "stack": "0x200000" },
              "console": "com1",
              "devices": [ { "id": "com1", "type": "uart16550", "io": "0x3f8", "irq": 4, "placement": "isolated" }{{consoles}} ]
            }
            """);
        return profile;
    }

    /// <summary>The live children of <paramref name="parent"/> (the machine's processes, for the launcher).</summary>
    private static int[] ChildrenOf(int parent)
    {
        List<int> children = [];
        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            try
            {
                string stat = File.ReadAllText(Path.Combine(directory, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[0] != "Z" && int.Parse(fields[1], CultureInfo.InvariantCulture) == parent)
                {
                    children.Add(pid);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // It ended while we looked.
            }
        }

        return [.. children];
    }

    /// <summary>VmRSS of <paramref name="pid"/> in KiB (0 once it is gone).</summary>
    private static long ResidentKiB(int pid)
    {
        try
        {
            string? line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static double Ms(LatencySamples samples, double percentile) => samples.PercentileMicroseconds(percentile) / 1000;

    private static long MedianKiB(List<long> samples) => samples.Order().ElementAt(samples.Count / 2);

    private sealed record MachineSample(int Processes, double StartUpMs, long RssKiB, string? Error);

    /// <summary>Makes the launcher start the given build of the hosts until disposed (the benchmark's own process only).</summary>
    private sealed class HostKindScope : IDisposable
    {
        private readonly string? _before = Environment.GetEnvironmentVariable(HostExecutables.JitHostsVariable);

        private HostKindScope(string kind) => Environment.SetEnvironmentVariable(HostExecutables.JitHostsVariable, kind == "jit" ? "1" : null);

        public static HostKindScope Use(string kind) => new(kind);

        public void Dispose() => Environment.SetEnvironmentVariable(HostExecutables.JitHostsVariable, _before);
    }
}
