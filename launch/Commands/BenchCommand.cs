using System.CommandLine;
using SplitEmu.Launch.Bench;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Commands;

/// <summary>`splitemu bench transport|mmio`: data-plane benchmarks with real processes (docs/transport-bench.md).</summary>
public static class BenchCommand
{
    /// <summary>Iterations.</summary>
    public static readonly Option<int> Iterations = new("--iterations")
    {
        Description = "Read round trips per row (transport) or guest reads per machine (mmio).",
        DefaultValueFactory = _ => 50_000,
    };

    /// <summary>Placement.</summary>
    public static readonly Option<string> Pin = new("--pin")
    {
        Description = "Where the two hot threads run: same-core, two-cores, none (the scheduler decides) or auto (each policy where it is fast: handoff and socket on one core, hybrid and spin on two).",
        DefaultValueFactory = _ => "same-core",
    };

    /// <summary>JSON output.</summary>
    public static readonly Option<string?> Json = new("--json")
    {
        Description = "Also write the results as JSON to FILE.",
    };

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        Command transport = new("transport", "Round trips and posted writes over the ring (each wait policy), the socket transport and JSON-RPC.")
        {
            Iterations, Pin, Json,
        };
        transport.SetAction((result, cancellationToken) => TransportAsync(
            result.GetValue(Iterations), result.GetValue(Pin) ?? "same-core", result.GetValue(Json), cancellationToken));

        Command mmio = new("mmio", "A guest reads a device register N times: ns per guest access, device inline and isolated in each wait policy.")
        {
            Iterations, Json,
        };
        mmio.SetAction((result, cancellationToken) => MmioBench.ExecuteAsync(result.GetValue(Iterations), result.GetValue(Json), cancellationToken));

        Command dispatch = new("dispatch", "Dispatch overhead (lookup + lease + release) per access for an inline device, against a bare handler call.")
        {
            Iterations,
        };
        dispatch.SetAction(result => DispatchBench.Execute(Math.Max(1, result.GetValue(Iterations)) * 200, rounds: 5, Console.Out));

        Option<long> instructions = new("--instructions")
        {
            Description = "Guest instructions per round (best of 5 rounds is printed).",
            DefaultValueFactory = _ => 40_000_000,
        };
        Command cpu = new("cpu", "The interpreter on a compute-heavy guest loop: millions of guest instructions per second, against the same loop in C#.")
        {
            instructions,
        };
        cpu.SetAction(result =>
        {
            long count = Math.Max(1_000, result.GetValue(instructions));
            CpuHost.Cpu.Benchmarks.BenchResult best = Enumerable.Range(0, 5).Select(_ => CpuHost.Cpu.Benchmarks.CpuBenchmark.RunComputeLoop(count)).MaxBy(r => r.Mips);
            Console.Out.WriteLine($"splitemu bench cpu: best of 5: {best}");
            CpuHost.Cpu.Benchmarks.BenchResult x87 = Enumerable.Range(0, 5).Select(_ => CpuHost.Cpu.Benchmarks.CpuBenchmark.RunX87Kernel(count)).MaxBy(r => r.Mips);
            int fpu = CpuHost.Cpu.Benchmarks.CpuBenchmark.X87KernelFpuInstructions, all = CpuHost.Cpu.Benchmarks.CpuBenchmark.X87KernelInstructions;
            Console.Out.WriteLine($"splitemu bench cpu: x87 kernel (mix: {fpu} x87 + {all - fpu} integer of every {all} instructions): best of 5: {x87}");
            return 0;
        });

        Option<int> runs = new("--runs")
        {
            Description = "Boots per machine (the median is printed).",
            DefaultValueFactory = _ => 3,
        };
        Command boot = new("boot", "SeaBIOS boots the shipped disk: time from reset to the boot sector's line, devices inline and isolated.")
        {
            runs, Json,
        };
        boot.SetAction((result, cancellationToken) => BootBench.ExecuteAsync(result.GetValue(runs), result.GetValue(Json), cancellationToken));

        return new Command("bench", "Benchmarks: the data plane, dispatch, the interpreter, a firmware boot.") { transport, mmio, dispatch, cpu, boot };
    }

    private static async Task<int> TransportAsync(int iterations, string pin, string? jsonPath, CancellationToken cancellationToken)
    {
        if (iterations < 1)
        {
            Console.Error.WriteLine("--iterations: expected a positive number");
            return ExitCodes.BadInput;
        }

        BenchPin? parsed = pin switch
        {
            "same-core" => BenchPin.SameCore,
            "two-cores" => BenchPin.TwoCores,
            "none" => BenchPin.None,
            "auto" => BenchPin.Auto,
            _ => null,
        };
        if (parsed is null)
        {
            Console.Error.WriteLine($"--pin: expected same-core, two-cores, none or auto, not '{pin}'");
            return ExitCodes.BadInput;
        }

        StringWriter log = new();
        try
        {
            Console.Error.WriteLine($"splitemu bench transport: {iterations} iterations, pin {pin}");
            TransportBenchReport report = await TransportBench.RunAsync(new TransportBenchOptions(iterations, parsed.Value), Console.Error, log, cancellationToken).ConfigureAwait(false);
            TransportBench.Print(report, Console.Out);
            if (jsonPath is not null)
            {
                report.WriteTo(jsonPath);
            }

            return report.Rows.Any(r => r.Error is not null) ? ExitCodes.Failure : 0;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or TimeoutException or StreamJsonRpc.RemoteInvocationException)
        {
            Console.Error.WriteLine($"splitemu bench transport: {ex.Message}");
            Console.Error.Write(log.ToString());
            return ExitCodes.Failure;
        }
    }
}
