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

    /// <summary>The multiprocessor machines: how many vCPUs, and whether each reads a device process of its own.</summary>
    private static readonly (int Vcpus, bool SeparateDevices)[] s_vcpuMachines = [(1, false), (2, false), (2, true), (4, false), (4, true)];

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
            List<MmioVcpuRow> vcpuRows = [];
            foreach ((int vcpus, bool separate) in s_vcpuMachines)
            {
                Console.Error.WriteLine($"  {vcpus} vCPU(s), {(separate ? "separate devices" : "one device")}...");
                vcpuRows.Add(await MeasureVcpusAsync(folder, vcpus, separate, iterations, cancellationToken).ConfigureAwait(false));
            }

            MmioVcpuRow single = vcpuRows[0];
            vcpuRows = [.. vcpuRows.Select(r => r with { VsOneVcpu = r.Error is null && single.Error is null && single.AccessesPerSecond > 0 ? r.AccessesPerSecond / single.AccessesPerSecond : null })];
            Print(rows, iterations, Console.Out);
            PrintVcpus(vcpuRows, Console.Out);
            if (jsonPath is not null)
            {
                await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(new { iterations, rows, vcpuRows }, BenchJson.Options) + "\n", cancellationToken).ConfigureAwait(false);
            }

            return rows.Any(r => r.Error is not null) || vcpuRows.Any(r => r.Error is not null) ? ExitCodes.Failure : 0;
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

    private static void PrintVcpus(IReadOnlyList<MmioVcpuRow> rows, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine("splitemu bench mmio: several vCPUs read isolated bench registers at once (handoff; the same total reads per machine)");
        output.WriteLine($"{"vCPUs",5} {"devices",-9} {"accesses",10} {"loop ms",10} {"machine ms",11} {"accesses/s",12} {"vs 1 vCPU",10}");
        foreach (MmioVcpuRow row in rows)
        {
            if (row.Error is not null)
            {
                output.WriteLine($"{row.Vcpus,5} {row.Devices,-9} failed: {row.Error}");
                continue;
            }

            string ratio = row.VsOneVcpu is double r ? $"{r:0.00}x" : "-";
            output.WriteLine($"{row.Vcpus,5} {row.Devices,-9} {row.Accesses,10} {row.LoopMs,10:0.0} {row.WallMs,11:0.0} {row.AccessesPerSecond,12:0} {ratio,10}");
        }

        output.WriteLine("one = every vCPU reads the same device process (its accesses take turns on one ring); separate = each its own.");
        output.WriteLine($"This host has {Environment.ProcessorCount} cores: vCPU threads and device threads beyond them take turns.");
    }

    /// <summary>
    /// A machine of <paramref name="vcpus"/> vCPUs that read isolated bench registers, <paramref name="iterations"/> reads
    /// in all, shared evenly: one device for all, or one each.
    /// </summary>
    private static async Task<MmioVcpuRow> MeasureVcpusAsync(string folder, int vcpus, bool separate, int iterations, CancellationToken cancellationToken)
    {
        string name = $"vcpus-{vcpus}-{(separate ? "separate" : "one")}";
        string devicesLabel = separate ? "separate" : "one";
        uint readsPerCpu = (uint)Math.Max(1, iterations / vcpus);
        long accesses = (long)readsPerCpu * vcpus;
        string guest = Path.Combine(folder, name + ".bin");
        await File.WriteAllBytesAsync(guest, MmioGuest.BuildMultiprocessor(vcpus, readsPerCpu, separate), cancellationToken).ConfigureAwait(false);
        string markFile = Path.Combine(folder, name + ".marks");
        object[] devices =
        [
            .. Enumerable.Range(0, separate ? vcpus : 1).Select(i =>
                BenchRegister($"bench{i}", MmioGuest.RegisterBase + (ulong)i * MmioGuest.RegisterStride, "isolated", i == 0 ? markFile : null)),
        ];
        (double wall, string? error) = await RunMachineAsync(folder, name, devices, vcpus, guest, cancellationToken).ConfigureAwait(false);
        long nanoseconds = 0;
        if (error is null)
        {
            // The marking register counts its own reads only: all of them with one device, its vCPU's with separate ones.
            (nanoseconds, error) = await ReadMarkAsync(markFile, separate ? readsPerCpu : accesses, cancellationToken).ConfigureAwait(false);
        }

        if (error is not null)
        {
            return new MmioVcpuRow { Vcpus = vcpus, Devices = devicesLabel, Accesses = accesses, Error = error };
        }

        return new MmioVcpuRow
        {
            Vcpus = vcpus,
            Devices = devicesLabel,
            Accesses = accesses,
            WallMs = wall,
            LoopMs = nanoseconds / 1e6,
            AccessesPerSecond = accesses / (nanoseconds / 1e9),
        };
    }

    private static async Task<MmioBenchRow> MeasureAsync(
        string folder, string name, string access, string placement, string? policy, string guest, uint reads, CancellationToken cancellationToken)
    {
        string markFile = Path.Combine(folder, name + ".marks");
        (double wall, string? error) = await RunMachineAsync(folder, name, DevicesFor(access, placement, policy, markFile), cpus: 1, guest, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            return new MmioBenchRow { Placement = name, Reads = reads, Error = error };
        }

        long registerReads = access == RegisterReads ? reads : 0; // the write loops never read the bench register
        (long nanoseconds, error) = await ReadMarkAsync(markFile, registerReads, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            return new MmioBenchRow { Placement = name, Reads = reads, Error = error };
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

    /// <summary>
    /// The host time between the guest's two marks, from the last mark line of <paramref name="markFile"/>, which must
    /// count <paramref name="registerReads"/> reads of the marking register.
    /// </summary>
    private static async Task<(long Nanoseconds, string? Error)> ReadMarkAsync(string markFile, long registerReads, CancellationToken cancellationToken)
    {
        string output = File.Exists(markFile) ? await File.ReadAllTextAsync(markFile, cancellationToken).ConfigureAwait(false) : "";
        string? mark = output.Split('\n').LastOrDefault(l => l.StartsWith(MarkPrefix, StringComparison.Ordinal));
        string[] fields = mark?.Trim().Split(' ') ?? [];
        if (fields.Length != 4 || !long.TryParse(fields[2], CultureInfo.InvariantCulture, out long marked)
            || !long.TryParse(fields[3], CultureInfo.InvariantCulture, out long nanoseconds) || marked != registerReads)
        {
            return (0, $"no mark line for {registerReads} reads in {markFile}: '{mark}'");
        }

        return (nanoseconds, null);
    }

    /// <summary>A bench register at <paramref name="mmio"/>; with a <paramref name="markFile"/> it records the guest's marks there.</summary>
    private static Dictionary<string, object> BenchRegister(string id, ulong mmio, string placement, string? markFile)
    {
        Dictionary<string, object> register = new()
        {
            ["id"] = id,
            ["type"] = "bench-register",
            ["mmio"] = $"0x{mmio:x}",
            ["placement"] = placement,
        };
        if (markFile is not null)
        {
            register["config"] = new Dictionary<string, string> { ["mark-file"] = markFile };
        }

        return register;
    }

    /// <summary>The devices of a single-vCPU row: the device under test, and the bench register that keeps the marks.</summary>
    private static object[] DevicesFor(string access, string placement, string? policy, string markFile)
    {
        Dictionary<string, object> benchRegister = BenchRegister("bench", MmioGuest.RegisterBase, access == RegisterReads ? placement : "inline", markFile);
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

        return access == RegisterReads ? [device] : [benchRegister, device];
    }

    /// <summary>Runs a machine of <paramref name="cpus"/> vCPUs with <paramref name="devices"/> and the exit port; returns its wall time.</summary>
    private static async Task<(double WallMs, string? Error)> RunMachineAsync(
        string folder, string name, object[] devices, int cpus, string guest, CancellationToken cancellationToken)
    {
        string profile = Path.Combine(folder, name + ".json");
        string report = Path.Combine(folder, name + ".report.json");
        Dictionary<string, object> machine = new()
        {
            ["schemaVersion"] = 1,
            ["name"] = "bench-mmio",
            ["memory"] = new { sizeMiB = 16 },
            ["load"] = new[] { new { file = guest, format = "flat", address = $"0x{MmioGuest.LoadAddress:x}" } },
            ["cpu"] = new { mode = "protected32-flat", entry = $"0x{MmioGuest.LoadAddress:x}", stack = $"0x{MmioGuest.StackTop:x}", count = cpus },
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
