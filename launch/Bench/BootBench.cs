using System.Diagnostics;
using System.Text;
using System.Text.Json;
using SplitEmu.Launch.Commands;
using SplitEmu.Launch.CrashTest;
using SplitEmu.Launch.Reports;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Bench;

/// <summary>One row of `splitemu bench boot`.</summary>
public sealed record BootBenchRow
{
    /// <summary>Which devices run where.</summary>
    public required string Machine { get; init; }

    /// <summary>Boots measured.</summary>
    public int Runs { get; init; }

    /// <summary>How the vCPU ran the guest, as the run report says ("translator" or "interpreter"; null: the peer).</summary>
    public string? Cpu { get; init; }

    /// <summary>Median milliseconds from the CPU leaving reset to the boot sector's line on the console (null: the peer, which does not say).</summary>
    public double? ResetToLineMs { get; init; }

    /// <summary>Fastest of the runs.</summary>
    public double? MinResetToLineMs { get; init; }

    /// <summary>Median milliseconds before reset (processes started and wired).</summary>
    public double? StartUpMs { get; init; }

    /// <summary>Median milliseconds from starting the machine (start-up included) to the boot sector's line.</summary>
    public double StartToLineMs { get; init; }

    /// <summary>Median guest accesses the IDE controller served (null: the peer, which does not say).</summary>
    public long? IdeAccesses { get; init; }

    /// <summary>This row's median reset-to-line / the all-inline row's.</summary>
    public double? VsAllInline { get; init; }

    /// <summary>This row's median start-to-line / QEMU's (the peer, start-up included on both sides); null without QEMU.</summary>
    public double? VsQemu { get; init; }

    /// <summary>Set when a boot failed.</summary>
    public string? Error { get; init; }
}

/// <summary>
/// `splitemu bench boot`: the shipped SeaBIOS machine (profiles/seabios.json) boots its disk, through the normal
/// run path, with every device inline, with only the IDE controller inline, and as shipped (IDE, PIT and COM1
/// isolated). The time is taken from the CPU leaving reset (the report's start-up time) to the moment the boot
/// sector's line reaches the console, so process start-up is not in it. Where QEMU is installed it boots the same
/// firmware and disk as the peer (<see cref="QemuPeer"/>); its start-up cannot be told apart from its boot, so the
/// ratio to it compares start to line on both sides.
/// </summary>
public static class BootBench
{
    /// <summary>The boot sector's line (guests/BootSectorGuest.cs): the end of the measured interval.</summary>
    private const string BootSectorLine = "SplitEmu boot sector: booted from the IDE disk";

    private static readonly (string Name, string[] Overrides)[] s_machines =
    [
        ("all inline", ["devices.pit.placement=inline", "devices.com1.placement=inline", "devices.ide.placement=inline"]),
        ("IDE inline", ["devices.ide.placement=inline"]),
        ("IDE isolated (shipped)", []),
        ("shipped, interpreter only", ["cpu.execution=interpreter"]),
    ];

    /// <summary>Boots each machine <paramref name="runs"/> times and prints the table.</summary>
    public static async Task<int> ExecuteAsync(int runs, string? jsonPath, CancellationToken cancellationToken)
    {
        if (runs < 1)
        {
            Console.Error.WriteLine("--runs: expected a positive number");
            return ExitCodes.BadInput;
        }

        string profile = Path.Combine(AppContext.BaseDirectory, "profiles", "seabios.json");
        List<BootBenchRow> rows = [];
        foreach ((string name, string[] overrides) in s_machines)
        {
            Console.Error.WriteLine($"  {name}: {runs} boots...");
            rows.Add(await MeasureAsync(name, profile, overrides, runs, cancellationToken).ConfigureAwait(false));
        }

        BootBenchRow? qemu = null;
        if (QemuPeer.IsInstalled && RunnableProfile.Load(profile, []) is { Profile: { } shipped })
        {
            Console.Error.WriteLine($"  QEMU (peer): {runs} boots...");
            qemu = await MeasureQemuAsync(shipped, runs, cancellationToken).ConfigureAwait(false);
        }

        double? baseline = rows[0].Error is null ? rows[0].ResetToLineMs : null;
        double? peer = qemu is { Error: null } ? qemu.StartToLineMs : null;
        rows = rows.Select(r => r with
        {
            VsAllInline = r.Error is null && baseline is > 0 ? r.ResetToLineMs / baseline : null,
            VsQemu = r.Error is null && peer is > 0 ? r.StartToLineMs / peer : null,
        }).ToList();
        if (qemu is not null)
        {
            rows.Add(qemu with { VsQemu = qemu.Error is null ? 1.0 : null });
        }

        Print(rows, Console.Out);
        if (jsonPath is not null)
        {
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(new { runs, rows }, BenchJson.Options) + "\n", cancellationToken).ConfigureAwait(false);
        }

        return rows.Any(r => r.Error is not null) ? ExitCodes.Failure : 0;
    }

    private static void Print(IReadOnlyList<BootBenchRow> rows, TextWriter output)
    {
        output.WriteLine("splitemu bench boot: SeaBIOS boots the disk; reset to the boot sector's line (median of the runs)");
        output.WriteLine($"{"machine",-26} {"cpu",-11} {"runs",5} {"reset->line ms",15} {"min ms",8} {"start-up ms",12} {"IDE accesses",13} {"vs all inline",14} {"start->line ms",15} {"vs QEMU",8}");
        foreach (BootBenchRow row in rows)
        {
            if (row.Error is not null)
            {
                output.WriteLine($"{row.Machine,-26} failed: {row.Error}");
                continue;
            }

            string ratio = row.VsAllInline is double r ? $"{r:0.00}x" : "-";
            string vsQemu = row.VsQemu is double q ? $"{q:0.0}x" : "-";
            string resetToLine = row.ResetToLineMs is double t ? $"{t:0.0}" : "-";
            string min = row.MinResetToLineMs is double m ? $"{m:0.0}" : "-";
            string startUp = row.StartUpMs is double u ? $"{u:0.0}" : "-";
            string ide = row.IdeAccesses is long n ? $"{n}" : "-";
            output.WriteLine($"{row.Machine,-26} {row.Cpu ?? "qemu tcg",-11} {row.Runs,5} {resetToLine,15} {min,8} {startUp,12} {ide,13} {ratio,14} {row.StartToLineMs,15:0.0} {vsQemu,8}");
        }

        if (!QemuPeer.IsInstalled)
        {
            output.WriteLine($"no peer: {QemuPeer.Executable} is not installed (Debian's qemu-system-x86)");
        }

        output.WriteLine($"device processes on the {HostExecutables.Kind(HostExecutables.DeviceHost)} host, the CPU process on the {HostExecutables.Kind(HostExecutables.CpuHost)} one (docs/processes.md); load average: {HostLoad.Average()}");
    }

    private static async Task<BootBenchRow> MeasureAsync(string name, string profilePath, string[] overrides, int runs, CancellationToken cancellationToken)
    {
        List<(double StartToLine, double StartUp, long Ide)> samples = [];
        string? cpu = null;
        for (int run = 0; run < runs; run++)
        {
            if (RunnableProfile.Load(profilePath, overrides) is not { Profile: { } profile } loaded)
            {
                return new BootBenchRow { Machine = name, Error = $"{profilePath} did not load" };
            }

            LineWatch console = new(BootSectorLine);
            RunOutcome outcome = await MachineRun.RunToEndAsync(profile, loaded.SourceName, new RunOptions(null, TimeSpan.FromMinutes(2)), console, TextWriter.Null, cancellationToken).ConfigureAwait(false);
            if (outcome.Report is not { } report || console.SeenAfter is not TimeSpan seen)
            {
                return new BootBenchRow { Machine = name, Error = $"run {run + 1} ended with exit code {outcome.ExitCode} before the boot sector's line" };
            }

            DeviceSection ide = report.Devices.Single(d => d.Id == "ide");
            samples.Add((seen.TotalMilliseconds, report.StartUpMs, ide.Accesses.Reads + ide.Accesses.Writes));
            cpu = report.Cpu?.Execution;
        }

        return new BootBenchRow
        {
            Machine = name,
            Runs = runs,
            Cpu = cpu,
            ResetToLineMs = Median(samples.Select(s => s.StartToLine - s.StartUp)),
            MinResetToLineMs = samples.Min(s => s.StartToLine - s.StartUp),
            StartUpMs = Median(samples.Select(s => s.StartUp)),
            StartToLineMs = Median(samples.Select(s => s.StartToLine)),
            IdeAccesses = (long)Median(samples.Select(s => (double)s.Ide)),
        };
    }

    /// <summary>
    /// QEMU boots the shipped profile's firmware and disk <paramref name="runs"/> times: from starting its process
    /// to the boot sector's line on its serial console (QEMU's standard output).
    /// </summary>
    private static async Task<BootBenchRow> MeasureQemuAsync(Shared.Profiles.MachineProfile shipped, int runs, CancellationToken cancellationToken)
    {
        string name = $"QEMU {QemuPeer.Version()} TCG (peer)";
        string? disk = shipped.Devices.SingleOrDefault(d => d.Id == "ide")?.Config?.GetValueOrDefault("primary-master");
        if (shipped.Firmware is not { } firmware || disk is null)
        {
            return new BootBenchRow { Machine = name, Error = "the shipped profile names no firmware or IDE disk" };
        }

        List<double> samples = [];
        for (int run = 0; run < runs; run++)
        {
            LineWatch console = new(BootSectorLine);
            QemuBoot boot = await QemuPeer.BootAsync(firmware.File, disk, shipped.Memory.SizeMiB, console, TimeSpan.FromMinutes(2), cancellationToken).ConfigureAwait(false);
            if (console.SeenAfter is not TimeSpan seen)
            {
                string ended = boot.ExitCode is int code ? $"ended with exit code {code}" : "was killed at its time limit";
                return new BootBenchRow { Machine = name, Error = $"run {run + 1} {ended} before the boot sector's line: {boot.Errors}" };
            }

            samples.Add(seen.TotalMilliseconds);
        }

        return new BootBenchRow { Machine = name, Runs = runs, StartToLineMs = Median(samples) };
    }

    /// <summary>The campaign's p50 (the middle run; with an even count, the upper of the two middle ones).</summary>
    private static double Median(IEnumerable<double> values) => Percentiles.Of(values.Select(v => (double?)v)).P50 ?? double.NaN;

    /// <summary>A console that notes when a line first appears (timed from its creation, just before the run starts).</summary>
    private sealed class LineWatch(string line) : Stream
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly StringBuilder _text = new();

        /// <summary>When the line appeared, or null.</summary>
        public TimeSpan? SeenAfter { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _text.Length;

        public override long Position { get => _text.Length; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (SeenAfter is not null)
            {
                return;
            }

            _text.Append(Encoding.ASCII.GetString(buffer, offset, count));
            if (_text.ToString().Contains(line, StringComparison.Ordinal))
            {
                SeenAfter = _clock.Elapsed;
            }
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
