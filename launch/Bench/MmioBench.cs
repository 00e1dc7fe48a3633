using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SplitEmu.Launch.Reports;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Bench;

/// <summary>One row of `splitemu bench mmio`.</summary>
public sealed record MmioBenchRow
{
    /// <summary>inline, isolated-handoff, isolated-hybrid or isolated-spin.</summary>
    public required string Placement { get; init; }

    /// <summary>What each guest access is: a read of the bench register, or a write to a UART's or debug console's port.</summary>
    public string Access { get; init; } = MmioBench.RegisterReads;

    /// <summary>Guest accesses to the device (reads of the register, or writes to the port).</summary>
    public long Reads { get; init; }

    /// <summary>Wall time of the whole machine, start-up included, milliseconds (from its report).</summary>
    public double WallMs { get; init; }

    /// <summary>Host time of the guest loop, between its two marks, milliseconds.</summary>
    public double LoopMs { get; init; }

    /// <summary>Loop time / reads, nanoseconds per guest access (the loop's own three instructions included).</summary>
    public double NsPerAccess { get; init; }

    /// <summary>This row's ns per access / the inline row's of the same access.</summary>
    public double? VsInline { get; init; }

    /// <summary>Set when a machine failed.</summary>
    public string? Error { get; init; }
}

/// <summary>
/// `splitemu bench mmio`: a guest loop reads a <c>bench-register</c> N times, run as full machines through the
/// normal `splitemu run` path (profiles in a temporary folder, --report for the wall time), with the device
/// inline and isolated in each wait policy. The guest writes the register's mark before and after its loop;
/// the device appends the host time in between to its mark file, so start-up is not in the ns per access.
/// Then the console writes: a loop writes N bytes to a debug console (isolated, its writes are posted) and to a
/// UART's holding register (isolated, each write waits for the device), each also inline, and ends with one read
/// of the device, which waits until every write was handled; the bench register, inline, only keeps the marks.
/// </summary>
public static class MmioBench
{
    /// <summary>The access of the read rows.</summary>
    public const string RegisterReads = "read bench-register";

    /// <summary>The access of the UART rows.</summary>
    public const string UartWrites = "write uart16550 THR";

    /// <summary>The access of the debug console rows.</summary>
    public const string DebugconWrites = "write debugcon";

    /// <summary>Each machine, and how many times more accesses it makes than --iterations (an inline access is far cheaper).</summary>
    private static readonly (string Name, string Access, string Placement, string? Policy, int Scale)[] s_machines =
    [
        ("inline", RegisterReads, "inline", null, 10),
        ("isolated-handoff", RegisterReads, "isolated", "handoff", 1),
        ("isolated-hybrid", RegisterReads, "isolated", "hybrid", 1),
        ("isolated-spin", RegisterReads, "isolated", "spin", 1),
        ("inline", DebugconWrites, "inline", null, 10),
        ("isolated-posted", DebugconWrites, "isolated", "handoff", 1),
        ("inline", UartWrites, "inline", null, 10),
        ("isolated-posted", UartWrites, "isolated", "handoff", 1),
    ];

    /// <summary>The port of the UART and of the debug console in the write rows' machines.</summary>
    private const ushort UartPort = 0x3F8, DebugconPort = 0x402;

    /// <summary>How long one machine may run.</summary>
    private const int MachineTimeoutSeconds = 300;

    /// <summary>The device's line: "bench-register: mark READS NANOSECONDS".</summary>
    private const string MarkPrefix = "bench-register: mark ";

    /// <summary>Runs the benchmark and prints its table.</summary>
    public static async Task<int> ExecuteAsync(int iterations, string? jsonPath, CancellationToken cancellationToken)
    {
        if (iterations < 1)
        {
            Console.Error.WriteLine("--iterations: expected a positive number");
            return ExitCodes.BadInput;
        }

        string folder = Directory.CreateTempSubdirectory($"splitemu-{Environment.ProcessId}-bench-mmio-").FullName;
        try
        {
            Console.Error.WriteLine($"splitemu bench mmio: {iterations} guest accesses per isolated machine");
            List<MmioBenchRow> rows = [];
            for (int i = 0; i < s_machines.Length; i++)
            {
                var (name, access, placement, policy, scale) = s_machines[i];
                Console.Error.WriteLine($"  {access}, {name}...");
                uint count = (uint)Math.Min((long)iterations * scale, uint.MaxValue);
                string guest = Path.Combine(folder, $"mmio-loop-{i}.bin");
                byte[] image = access switch
                {
                    UartWrites => MmioGuest.BuildPortWrites(count, UartPort, UartPort + 5),
                    DebugconWrites => MmioGuest.BuildPortWrites(count, DebugconPort, DebugconPort),
                    _ => MmioGuest.Build(count),
                };
                await File.WriteAllBytesAsync(guest, image, cancellationToken).ConfigureAwait(false);
                MmioBenchRow row = await MeasureAsync(folder, $"{i}-{name}", access, placement, policy, guest, count, cancellationToken).ConfigureAwait(false);
                rows.Add(row with { Placement = name, Access = access });
            }

            rows = rows.Select(r =>
            {
                MmioBenchRow inline = rows.First(i => i.Access == r.Access);
                return r with { VsInline = r.Error is null && inline.Error is null && inline.NsPerAccess > 0 ? r.NsPerAccess / inline.NsPerAccess : null };
            }).ToList();
            Print(rows, iterations, Console.Out);
            if (jsonPath is not null)
            {
                await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(new { iterations, rows }, BenchJson.Options) + "\n", cancellationToken).ConfigureAwait(false);
            }

            return rows.Any(r => r.Error is not null) ? ExitCodes.Failure : 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void Print(IReadOnlyList<MmioBenchRow> rows, int iterations, TextWriter output)
    {
        output.WriteLine($"splitemu bench mmio: guest accesses to one device ({iterations} per isolated machine; threads placed by the scheduler)");
        output.WriteLine($"{"access",-21} {"device",-18} {"accesses",10} {"loop ms",10} {"machine ms",11} {"ns/access",11} {"vs inline",10}");
        foreach (MmioBenchRow row in rows)
        {
            if (row.Error is not null)
            {
                output.WriteLine($"{row.Access,-21} {row.Placement,-18} failed: {row.Error}");
                continue;
            }

            string ratio = row.VsInline is double r ? $"{r:0.0}x" : "-";
            output.WriteLine($"{row.Access,-21} {row.Placement,-18} {row.Reads,10} {row.LoopMs,10:0.0} {row.WallMs,11:0.0} {row.NsPerAccess,11:0} {ratio,10}");
        }

        output.WriteLine("ns/access = host time between the guest's marks / accesses; the loop's own 2-3 instructions per access are included.");
        output.WriteLine("Writes to an isolated debug console and to a UART's holding register are posted; the loop's last read waits until all were handled.");
    }

    private static async Task<MmioBenchRow> MeasureAsync(
        string folder, string name, string access, string placement, string? policy, string guest, uint reads, CancellationToken cancellationToken)
    {
        string markFile = Path.Combine(folder, name + ".marks");
        (double wall, string? error) = await RunMachineAsync(folder, name, access, placement, policy, guest, markFile, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            return new MmioBenchRow { Placement = name, Reads = reads, Error = error };
        }

        string output = File.Exists(markFile) ? await File.ReadAllTextAsync(markFile, cancellationToken).ConfigureAwait(false) : "";
        string? mark = output.Split('\n').LastOrDefault(l => l.StartsWith(MarkPrefix, StringComparison.Ordinal));
        string[] fields = mark?.Trim().Split(' ') ?? [];
        long registerReads = access == RegisterReads ? reads : 0; // the write loops never read the bench register
        if (fields.Length != 4 || !long.TryParse(fields[2], CultureInfo.InvariantCulture, out long marked)
            || !long.TryParse(fields[3], CultureInfo.InvariantCulture, out long nanoseconds) || marked != registerReads)
        {
            return new MmioBenchRow { Placement = name, Reads = reads, Error = $"no mark line for {reads} reads in {markFile}: '{mark}'" };
        }

        return new MmioBenchRow
        {
            Placement = name,
            Reads = reads,
            WallMs = wall,
            LoopMs = nanoseconds / 1e6,
            NsPerAccess = (double)nanoseconds / reads,
        };
    }

    private static async Task<(double WallMs, string? Error)> RunMachineAsync(
        string folder, string name, string access, string placement, string? policy, string guest, string markFile, CancellationToken cancellationToken)
    {
        string profile = Path.Combine(folder, name + ".json");
        string report = Path.Combine(folder, name + ".report.json");
        Dictionary<string, object> benchRegister = new()
        {
            ["id"] = "bench",
            ["type"] = "bench-register",
            ["mmio"] = $"0x{MmioGuest.RegisterBase:x}",
            ["placement"] = access == RegisterReads ? placement : "inline",
            ["config"] = new Dictionary<string, string> { ["mark-file"] = markFile },
        };
        Dictionary<string, object> device = access switch
        {
            UartWrites => new() { ["id"] = "com1", ["type"] = "uart16550", ["io"] = $"0x{UartPort:x}", ["irq"] = 4, ["placement"] = placement },
            DebugconWrites => new() { ["id"] = "debugcon", ["type"] = "debugcon", ["io"] = $"0x{DebugconPort:x}", ["placement"] = placement },
            _ => benchRegister,
        };
        if (policy is not null)
        {
            device["waitPolicy"] = policy;
        }

        object[] devices = access == RegisterReads ? [device] : [benchRegister, device];

        Dictionary<string, object> machine = new()
        {
            ["schemaVersion"] = 1,
            ["name"] = "bench-mmio",
            ["memory"] = new { sizeMiB = 16 },
            ["load"] = new[] { new { file = guest, format = "flat", address = $"0x{MmioGuest.LoadAddress:x}" } },
            ["cpu"] = new { mode = "protected32-flat", entry = $"0x{MmioGuest.LoadAddress:x}", stack = $"0x{MmioGuest.StackTop:x}" },
            ["devices"] = devices.Append(new Dictionary<string, object> { ["id"] = "exit", ["type"] = "debug-exit", ["io"] = "0x501", ["placement"] = "inline" }).ToArray(),
        };
        await File.WriteAllTextAsync(profile, JsonSerializer.Serialize(machine), cancellationToken).ConfigureAwait(false);

        ProcessStartInfo info = HostExecutables.StartInfo("splitemu");
        foreach (string argument in new[] { "run", profile, "--report", report, "--timeout", MachineTimeoutSeconds.ToString(CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(argument);
        }

        info.UseShellExecute = false;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.RedirectStandardInput = true;
        using Process process = Process.Start(info) ?? throw new InvalidOperationException("could not start splitemu");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        await stdout.ConfigureAwait(false);
        string errors = await stderr.ConfigureAwait(false);
        if (!File.Exists(report))
        {
            return (0, $"splitemu run exited with {process.ExitCode} and no report: {errors.Trim()}");
        }

        RunReport result = RunReport.Read(report);
        if (result.Exit.Reason != "guest-exit")
        {
            return (0, $"the machine ended with {result.Exit.Reason}: {result.Exit.Detail}");
        }

        return (result.WallTimeMs, null);
    }
}
