using System.Text.Json;
using SplitEmu.Launch.Commands;
using SplitEmu.Launch.CrashTest;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Bench;

/// <summary>One row of `splitemu bench linux`.</summary>
public sealed record LinuxBenchRow
{
    /// <summary>Which devices run where.</summary>
    public required string Machine { get; init; }

    /// <summary>Boots measured.</summary>
    public int Runs { get; init; }

    /// <summary>How the vCPU ran the guest, as the run report says ("translator" or "interpreter"; null: the peer).</summary>
    public string? Cpu { get; init; }

    /// <summary>Median seconds from starting the machine (process start-up included) to the shell's first prompt.</summary>
    public double StartToPromptSeconds { get; init; }

    /// <summary>The fastest and slowest boot's start-to-prompt seconds: how much the shared machine moved during the run.</summary>
    public double FastestSeconds { get; init; }

    /// <summary>See <see cref="FastestSeconds"/>.</summary>
    public double SlowestSeconds { get; init; }

    /// <summary>Median milliseconds before the first guest instruction (null: the peer, which does not say).</summary>
    public double? StartUpMs { get; init; }

    /// <summary>Median guest instructions to the prompt (null: the peer).</summary>
    public long? Instructions { get; init; }

    /// <summary>Guest instructions per second of wall time from the first instruction to the prompt (null: the peer).</summary>
    public double? Mips { get; init; }

    /// <summary>This row's median start-to-prompt / QEMU's; null without QEMU.</summary>
    public double? VsQemu { get; init; }

    /// <summary>Set when a boot failed.</summary>
    public string? Error { get; init; }
}

/// <summary>
/// `splitemu bench linux`: Debian's kernel (profiles/linux.json, the guest fetched by scripts/fetch-linux-guest.sh)
/// from process start to the shell's first prompt, with every device inline and as shipped (PIT, COM1, IDE
/// isolated), as shipped on the interpreter alone and on two vCPUs, through the normal run path; each machine is stopped as soon as it prompts. Where QEMU is
/// installed it boots the same kernel, initrd, command line and disk on a CPU with the same features as the
/// peer in the same run (<see cref="QemuPeer.LinuxArguments"/>). The boots go round the machines (the first of
/// each, then the second of each...), so a shared machine that slows down for a minute slows every row alike and
/// the ratios between rows stay meaningful.
/// </summary>
public static class LinuxBench
{
    private static readonly TimeSpan s_bootLimit = TimeSpan.FromMinutes(10);

    private static readonly (string Name, string[] Overrides)[] s_machines =
    [
        ("all inline", ["devices.pit.placement=inline", "devices.com1.placement=inline", "devices.ide.placement=inline"]),
        ("as shipped (PIT, COM1, IDE isolated)", []),
        ("as shipped, interpreter only", ["cpu.execution=interpreter"]),
        // Two vCPUs on the shipped devices: the kernel starts the second through the local APICs (no I/O APIC:
        // virtual wire), so the row shows what the second vCPU costs a boot on this host.
        ("as shipped, 2 vCPUs", ["cpu.count=2"]),
    ];

    /// <summary>Boots each machine <paramref name="runs"/> times and prints the table.</summary>
    public static async Task<int> ExecuteAsync(int runs, string? jsonPath, CancellationToken cancellationToken)
    {
        if (runs < 1)
        {
            Console.Error.WriteLine("--runs: expected a positive number");
            return ExitCodes.BadInput;
        }

        if (LinuxGuestCache.Find(out string problem) is not { } guest)
        {
            Console.Error.WriteLine($"splitemu bench linux: {problem}");
            return ExitCodes.BadInput;
        }

        string profile = Path.Combine(AppContext.BaseDirectory, "profiles", "linux.json");
        bool withQemu = QemuPeer.IsInstalled;
        Shared.Profiles.MachineProfile? shipped = withQemu ? RunnableProfile.Load(profile, GuestOverrides(guest, guest.Disk))?.Profile : null;
        var boots = s_machines.Select(m => new MachineBoots(m.Name, m.Overrides)).ToList();
        var qemuBoots = new MachineBoots($"QEMU {(shipped is null ? "" : QemuPeer.Version())} TCG (peer)", []);
        for (int run = 0; run < runs; run++)
        {
            Console.Error.WriteLine($"  round {run + 1} of {runs}: {string.Join(", ", boots.Select(b => b.Name))}{(shipped is null ? "" : ", QEMU")}...");
            foreach (MachineBoots machine in boots.Where(b => b.Error is null))
            {
                await BootOnceAsync(machine, profile, guest, run, cancellationToken).ConfigureAwait(false);
            }

            if (shipped is not null && qemuBoots.Error is null)
            {
                await QemuBootOnceAsync(qemuBoots, shipped, guest, run, cancellationToken).ConfigureAwait(false);
            }
        }

        List<LinuxBenchRow> rows = [.. boots.Select(Summarize)];
        LinuxBenchRow? qemu = shipped is null ? null : Summarize(qemuBoots);
        double? peer = qemu is { Error: null } ? qemu.StartToPromptSeconds : null;
        rows = [.. rows.Select(r => r with { VsQemu = r.Error is null && peer is > 0 ? r.StartToPromptSeconds / peer : null })];
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

    private static void Print(IReadOnlyList<LinuxBenchRow> rows, TextWriter output)
    {
        output.WriteLine("splitemu bench linux: Debian's kernel from process start to the shell's first prompt (median of the runs, boots taken round the machines)");
        output.WriteLine($"{"machine",-38} {"cpu",-11} {"runs",5} {"start->prompt s",16} {"fastest-slowest s",18} {"start-up ms",12} {"instructions",14} {"MIPS",7} {"vs QEMU",8}");
        foreach (LinuxBenchRow row in rows)
        {
            if (row.Error is not null)
            {
                output.WriteLine($"{row.Machine,-38} failed: {row.Error}");
                continue;
            }

            string startUp = row.StartUpMs is double u ? $"{u:0}" : "-";
            string instructions = row.Instructions is long n ? $"{n:N0}" : "-";
            string mips = row.Mips is double m ? $"{m:0.0}" : "-";
            string vsQemu = row.VsQemu is double q ? $"{q:0.0}x" : "-";
            string spread = $"{row.FastestSeconds:0.0}-{row.SlowestSeconds:0.0}";
            output.WriteLine($"{row.Machine,-38} {row.Cpu ?? "qemu tcg",-11} {row.Runs,5} {row.StartToPromptSeconds,16:0.0} {spread,18} {startUp,12} {instructions,14} {mips,7} {vsQemu,8}");
        }

        if (!QemuPeer.IsInstalled)
        {
            output.WriteLine($"no peer: {QemuPeer.Executable} is not installed (Debian's qemu-system-x86)");
        }
        else
        {
            output.WriteLine($"peer: QEMU TCG, -cpu {QemuPeer.LinuxCpuModel}; its time includes SeaBIOS and its linuxboot ROM");
        }

        output.WriteLine($"load average: {HostLoad.Average()}");
    }

    /// <summary>The fetched guest in place of the profile's paths (which are relative to the repository's profiles/).</summary>
    private static string[] GuestOverrides(LinuxGuestCache guest, string disk) =>
        [$"kernel={guest.Kernel}", $"initrd={guest.Initrd}", $"devices.ide.config.primary-master={disk}"];

    /// <summary>One machine's boots so far, or the error that ended them.</summary>
    private sealed class MachineBoots(string name, string[] overrides)
    {
        public string Name { get; } = name;

        public string[] Overrides { get; } = overrides;

        public List<(double StartToPrompt, double? StartUp, long? Instructions)> Samples { get; } = [];

        public string? Cpu { get; set; }

        public string? Error { get; set; }
    }

    /// <summary>Boots <paramref name="machine"/> once to the prompt (on its own copy of the disk) and records the boot or the failure.</summary>
    private static async Task BootOnceAsync(MachineBoots machine, string profilePath, LinuxGuestCache guest, int run, CancellationToken cancellationToken)
    {
        string folder = Directory.CreateTempSubdirectory("splitemu-bench-linux-").FullName;
        try
        {
            string disk = Path.Combine(folder, "disk.ext4"); // each boot writes its own copy (the image is locked while in use)
            File.Copy(guest.Disk, disk);
            if (RunnableProfile.Load(profilePath, [.. GuestOverrides(guest, disk), .. machine.Overrides]) is not { Profile: { } profile } loaded)
            {
                machine.Error = $"{profilePath} did not load";
                return;
            }

            using ShellPromptWatch console = new();
            using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, console.Prompted);
            RunOutcome outcome = await MachineRun.RunToEndAsync(profile, loaded.SourceName, new RunOptions(null, s_bootLimit), console, TextWriter.Null, stop.Token).ConfigureAwait(false);
            if (outcome.Report is not { } report || console.PromptAfter is not TimeSpan prompted)
            {
                machine.Error = $"run {run + 1} ended with exit code {outcome.ExitCode} before the shell prompted";
                return;
            }

            machine.Samples.Add((prompted.TotalSeconds, report.StartUpMs, report.Instructions));
            machine.Cpu = report.Cpu?.Execution;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Boots the same kernel, initrd, command line and disk in QEMU once, as <see cref="BootOnceAsync"/> does ours.</summary>
    private static async Task QemuBootOnceAsync(MachineBoots qemu, Shared.Profiles.MachineProfile shipped, LinuxGuestCache guest, int run, CancellationToken cancellationToken)
    {
        using ShellPromptWatch console = new();
        string errors = await QemuPeer.BootLinuxToPromptAsync(guest.Kernel, guest.Initrd, shipped.Cmdline ?? "", guest.Disk, shipped.Memory.SizeMiB, console, s_bootLimit, cancellationToken).ConfigureAwait(false);
        if (console.PromptAfter is not TimeSpan prompted)
        {
            qemu.Error = $"run {run + 1} did not reach the shell's prompt: {errors}";
            return;
        }

        qemu.Samples.Add((prompted.TotalSeconds, null, null));
    }

    /// <summary>A machine's row: the medians of its boots (the peer has no start-up or instruction count).</summary>
    private static LinuxBenchRow Summarize(MachineBoots machine)
    {
        if (machine.Error is not null)
        {
            return new LinuxBenchRow { Machine = machine.Name, Error = machine.Error };
        }

        double startToPrompt = Median(machine.Samples.Select(s => s.StartToPrompt));
        var row = new LinuxBenchRow
        {
            Machine = machine.Name,
            Runs = machine.Samples.Count,
            Cpu = machine.Cpu,
            StartToPromptSeconds = startToPrompt,
            FastestSeconds = machine.Samples.Min(s => s.StartToPrompt),
            SlowestSeconds = machine.Samples.Max(s => s.StartToPrompt),
        };
        if (machine.Samples[0].StartUp is null)
        {
            return row;
        }

        double startUp = Median(machine.Samples.Select(s => s.StartUp ?? 0));
        long instructions = (long)Median(machine.Samples.Select(s => (double)(s.Instructions ?? 0)));
        return row with
        {
            StartUpMs = startUp,
            Instructions = instructions,
            Mips = instructions / (startToPrompt - startUp / 1000) / 1e6,
        };
    }

    /// <summary>The campaign's p50 (the middle run; with an even count, the upper of the two middle ones).</summary>
    private static double Median(IEnumerable<double> values) => Percentiles.Of(values.Select(v => (double?)v)).P50 ?? double.NaN;
}
