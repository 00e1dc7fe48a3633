using System.Diagnostics;
using SplitEmu.DeviceHost.Devices.Bench;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Launch.Bench;

/// <summary>Where the two sides of the benchmark run.</summary>
public enum BenchPin
{
    /// <summary>Leave placement to the scheduler.</summary>
    None,

    /// <summary>The CPU-side thread and the device's serving thread on core 0.</summary>
    SameCore,

    /// <summary>The CPU-side thread on core 0, the serving thread on core 1.</summary>
    TwoCores,

    /// <summary>Each transport where <see cref="CorePlacement"/> recommends: handoff and the socket on one core, hybrid and spin on two.</summary>
    Auto,
}

/// <summary>Options of `splitemu bench transport`.</summary>
/// <param name="Iterations">Read round trips per row (posted writes: a quarter as many batches per batch size).</param>
/// <param name="Pin">Placement of the two sides.</param>
/// <param name="Remotes">
/// For `bench remote`: hosts (by profile name) to measure a device process on over ssh, next to the ring (handoff) and
/// the socket of this machine; null measures this machine's transports only.
/// </param>
public sealed record TransportBenchOptions(int Iterations, BenchPin Pin, IReadOnlyDictionary<string, HostConfig>? Remotes = null);

/// <summary>
/// `splitemu bench transport`: one run, real processes. For each transport (the ring in each wait policy, the
/// socket transport, a JSON-RPC call per access) a fresh device process serves a <see cref="BenchRegister"/>
/// and this process, as the CPU side, measures read round trips and posted writes in batches of 16 and 64.
/// </summary>
public static class TransportBench
{
    /// <summary>Posted-write batch sizes measured.</summary>
    public static readonly int[] BatchSizes = [16, 64];

    /// <summary>Most JSON-RPC calls per row (each costs tens of microseconds).</summary>
    private const int RpcIterationLimit = 20_000;

    /// <summary>
    /// Longest a row may run: a placement that is pathological by design (spin with both sides on one core
    /// costs a scheduler slice per round trip) stops early and reports what it measured.
    /// </summary>
    private static readonly long s_rowLimitTicks = Stopwatch.Frequency * 10;

    /// <summary>How long one access may take before the row is declared failed.</summary>
    private static readonly long s_deadlineTicks = Stopwatch.Frequency * 5;

    /// <summary>Runs every row; never throws for a failing transport (the row carries the error).</summary>
    public static async Task<TransportBenchReport> RunAsync(TransportBenchOptions options, TextWriter progress, TextWriter log, CancellationToken cancellationToken)
    {
        int? cpuCore = options.Pin == BenchPin.None ? null : 0;

        List<TransportBenchRow> rows = [];
        List<(string Name, BenchTransportKind Kind, WaitSettings Wait, HostConfig? Host)> transports =
        [
            ("ring-handoff", BenchTransportKind.Ring, WaitSettings.Handoff, null),
        ];
        if (options.Remotes is null)
        {
            transports.Add(("ring-hybrid", BenchTransportKind.Ring, new WaitSettings(WaitPolicy.Hybrid, ProfileDefaults.HybridSpinBudget), null));
            transports.Add(("ring-spin", BenchTransportKind.Ring, new WaitSettings(WaitPolicy.Spin, 0), null));
        }

        transports.Add(("socket", BenchTransportKind.Socket, WaitSettings.Handoff, null));
        foreach ((string hostName, HostConfig host) in options.Remotes ?? new Dictionary<string, HostConfig>())
        {
            transports.Add(($"ssh:{hostName}", BenchTransportKind.Remote, WaitSettings.Handoff, host));
        }

        foreach (var (name, kind, wait, host) in transports)
        {
            progress.WriteLine($"  {name}...");
            int? deviceCore = kind == BenchTransportKind.Remote ? null : options.Pin switch
            {
                BenchPin.SameCore => 0,
                BenchPin.TwoCores => Math.Min(1, Environment.ProcessorCount - 1),
                BenchPin.Auto => CorePlacement.ServingCore(wait.Policy),
                _ => null,
            };
            await using BenchDeviceProcess device = await BenchDeviceProcess.StartAsync(
                kind, wait, deviceCore, withRpc: kind == BenchTransportKind.Socket && options.Remotes is null, log, cancellationToken, remote: host).ConfigureAwait(false);
            // Measure on a thread of our own: pinning it leaves the runtime's other threads free.
            rows.AddRange(await OnDedicatedThread(() => MeasureTransport(name, device.Transport, options.Iterations, cpuCore)).ConfigureAwait(false));
            if (device.Rpc is IBenchRegisterRpc rpc)
            {
                progress.WriteLine("  json-rpc...");
                rows.AddRange(await MeasureRpcAsync(rpc, Math.Min(options.Iterations, RpcIterationLimit)).ConfigureAwait(false));
            }
        }

        return new TransportBenchReport
        {
            Pin = PinName(options.Pin),
            Iterations = options.Iterations,
            Cores = Environment.ProcessorCount,
            StartedUtc = DateTime.UtcNow,
            LoadAverage = HostLoad.Average(),
            Rows = WithRatios(rows),
        };
    }

    /// <summary>The option spelling of <paramref name="pin"/>.</summary>
    public static string PinName(BenchPin pin) => pin switch
    {
        BenchPin.SameCore => "same-core",
        BenchPin.TwoCores => "two-cores",
        BenchPin.Auto => "auto",
        _ => "none",
    };

    /// <summary>Prints the table.</summary>
    public static void Print(TransportBenchReport report, TextWriter output, string command = "transport")
    {
        output.WriteLine($"splitemu bench {command}: pin {report.Pin}, {report.Iterations} reads per row, {report.Cores} cores, load average {report.LoadAverage}");
        output.WriteLine($"{"transport",-13} {"operation",-17} {"count",8} {"p50 us",9} {"p99 us",9} {"p99.9 us",9} {"ops/s",12} {"vs socket",10}");
        foreach (TransportBenchRow row in report.Rows)
        {
            if (row.Error is not null)
            {
                output.WriteLine($"{row.Transport,-13} {row.Operation,-17} failed: {row.Error}");
                continue;
            }

            string ratio = row.VsSocket is double r ? $"{r:0.00}x" : "-";
            output.WriteLine($"{row.Transport,-13} {row.Operation,-17} {row.Operations,8} {row.P50Us,9:0.000} {row.P99Us,9:0.000} {row.P999Us,9:0.000} {row.OpsPerSecond,12:#,0} {ratio,10}");
        }

        output.WriteLine("count: operations measured (a row stops early after 10 s: spin or hybrid with both sides on one core is pathological).");
        output.WriteLine("reads: round trip per access. posted writes: cost per write within a batch (batch time / batch size);");
        output.WriteLine("ops/s counts until the device handled the last write. vs socket: socket p50 / p50 for reads, ops/s / socket ops/s for writes.");
    }

    private static List<TransportBenchRow> MeasureTransport(string name, IRequestTransport transport, int iterations, int? core)
    {
        if (core is int c)
        {
            ThreadAffinity.PinCurrentThread(c);
        }

        List<TransportBenchRow> rows = [MeasureReads(name, transport, iterations)];
        foreach (int batch in BatchSizes)
        {
            rows.Add(MeasurePostedWrites(name, transport, Math.Max(1, iterations / 4), batch));
        }

        return rows;
    }

    private static TransportBenchRow MeasureReads(string name, IRequestTransport transport, int iterations)
    {
        const string Operation = "read";
        int warmup = Math.Clamp(iterations / 10, 100, 10_000);
        for (int i = 0; i < warmup; i++)
        {
            if (!Read(transport, BenchRegister.ReadCountRegister, out _, out RingCallStatus status))
            {
                return Failed(name, Operation, $"warm-up read {i}: {status}");
            }
        }

        LatencySamples samples = new(iterations);
        long start = Stopwatch.GetTimestamp();
        int done = 0;
        while (done < iterations && Stopwatch.GetTimestamp() - start < s_rowLimitTicks)
        {
            long t0 = Stopwatch.GetTimestamp();
            bool ok = Read(transport, BenchRegister.ReadCountRegister, out _, out RingCallStatus status);
            samples.Add(Stopwatch.GetTimestamp() - t0);
            if (!ok)
            {
                return Failed(name, Operation, $"read {done}: {status}");
            }

            done++;
        }

        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return Row(name, Operation, done, samples, 1, done / seconds);
    }

    private static TransportBenchRow MeasurePostedWrites(string name, IRequestTransport transport, int batches, int batch)
    {
        string operation = $"posted-write x{batch}";
        if (transport is RingRequester ring)
        {
            ring.PostBatch = batch;
        }

        if (!Read(transport, BenchRegister.WriteCountRegister, out ulong writesBefore, out RingCallStatus status))
        {
            return Failed(name, operation, $"read before: {status}");
        }

        LatencySamples samples = new(batches);
        long start = Stopwatch.GetTimestamp();
        ulong value = 0;
        int done = 0;
        for (; done < batches && Stopwatch.GetTimestamp() - start < s_rowLimitTicks; done++)
        {
            long t0 = Stopwatch.GetTimestamp();
            long deadline = t0 + s_deadlineTicks; // only consulted when the ring is full
            for (int i = 0; i < batch; i++)
            {
                RingMessage write = new() { Kind = MessageKind.PostedWrite, AccessSize = 8, Offset = BenchRegister.LastValueRegister, Value = ++value };
                status = transport.Post(ref write, deadline);
                if (status != RingCallStatus.Completed)
                {
                    return Failed(name, operation, $"write {value}: {status}");
                }
            }

            transport.Flush();
            samples.Add(Stopwatch.GetTimestamp() - t0);
        }

        // Ring order: this read completes only after every write above was handled.
        if (!Read(transport, BenchRegister.WriteCountRegister, out ulong writesAfter, out status))
        {
            return Failed(name, operation, $"read after: {status}");
        }

        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long total = (long)done * batch;
        if (writesAfter - writesBefore != (ulong)total)
        {
            return Failed(name, operation, $"the device handled {writesAfter - writesBefore} of {total} writes before the read");
        }

        return Row(name, operation, total, samples, batch, total / seconds);
    }

    private static async Task<List<TransportBenchRow>> MeasureRpcAsync(IBenchRegisterRpc rpc, int iterations)
    {
        const string Name = "json-rpc";
        List<TransportBenchRow> rows = [];
        for (int i = 0; i < Math.Clamp(iterations / 10, 100, 2000); i++)
        {
            await rpc.ReadAsync(BenchRegister.ReadCountRegister).ConfigureAwait(false);
        }

        LatencySamples samples = new(iterations);
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < iterations; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            await rpc.ReadAsync(BenchRegister.ReadCountRegister).ConfigureAwait(false);
            samples.Add(Stopwatch.GetTimestamp() - t0);
        }

        rows.Add(Row(Name, "read", iterations, samples, 1, iterations / Stopwatch.GetElapsedTime(start).TotalSeconds));
        foreach (int batch in BatchSizes)
        {
            // A JSON-RPC call per write: the peers have no posted writes, so each one is a call with a reply.
            int batches = Math.Max(1, iterations / 4 / batch);
            LatencySamples batchSamples = new(batches);
            start = Stopwatch.GetTimestamp();
            for (int b = 0; b < batches; b++)
            {
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < batch; i++)
                {
                    await rpc.WriteAsync(BenchRegister.LastValueRegister, (ulong)i).ConfigureAwait(false);
                }

                batchSamples.Add(Stopwatch.GetTimestamp() - t0);
            }

            long total = (long)batches * batch;
            rows.Add(Row(Name, $"posted-write x{batch}", total, batchSamples, batch, total / Stopwatch.GetElapsedTime(start).TotalSeconds));
        }

        return rows;
    }

    private static bool Read(IRequestTransport transport, ulong offset, out ulong value, out RingCallStatus status)
    {
        RingMessage request = new() { Kind = MessageKind.Read, AccessSize = 8, Offset = offset };
        status = transport.Call(ref request, out RingMessage reply, Stopwatch.GetTimestamp() + s_deadlineTicks);
        value = reply.Value;
        return status == RingCallStatus.Completed && reply.Kind == MessageKind.ReadDone;
    }

    private static TransportBenchRow Row(string name, string operation, long operations, LatencySamples samples, int perSample, double opsPerSecond) => new()
    {
        Transport = name,
        Operation = operation,
        Operations = operations,
        P50Us = samples.PercentileMicroseconds(50, perSample),
        P99Us = samples.PercentileMicroseconds(99, perSample),
        P999Us = samples.PercentileMicroseconds(99.9, perSample),
        OpsPerSecond = opsPerSecond,
    };

    private static TransportBenchRow Failed(string name, string operation, string error) =>
        new() { Transport = name, Operation = operation, Error = error };

    private static List<TransportBenchRow> WithRatios(List<TransportBenchRow> rows)
    {
        List<TransportBenchRow> result = [];
        foreach (TransportBenchRow row in rows)
        {
            TransportBenchRow? socket = rows.Find(r => r.Transport == "socket" && r.Operation == row.Operation && r.Error is null);
            double? ratio = socket is null || row.Error is not null ? null
                : row.Operation == "read" ? socket.P50Us / row.P50Us
                : row.OpsPerSecond / socket.OpsPerSecond;
            result.Add(row with { VsSocket = ratio });
        }

        return result;
    }

    private static Task<T> OnDedicatedThread<T>(Func<T> work)
    {
        TaskCompletionSource<T> done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Thread thread = new(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        })
        { Name = "bench-cpu-side", IsBackground = true };
        thread.Start();
        return done.Task;
    }
}
