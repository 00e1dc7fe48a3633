using System.CommandLine;
using SplitEmu.CpuHost.Cpu.Benchmarks;
using SplitEmu.CpuHost.Cpu.Translation;
using SplitEmu.Launch.Bench;
using SplitEmu.Launch.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Commands;

/// <summary>
/// `splitemu bench transport|mmio|dispatch|cpu|boot|linux`: benchmarks (docs/transport-bench.md). Defaults and the help
/// texts that state them both come from <see cref="BenchDefaults"/>.
/// </summary>
public static class BenchCommand
{
    /// <summary>Iterations.</summary>
    public static readonly Option<int> Iterations = new("--iterations")
    {
        Description = $"Read round trips per row (transport) or guest reads per machine (mmio); default {BenchDefaults.Count(BenchDefaults.Iterations)}.",
        DefaultValueFactory = _ => BenchDefaults.Iterations,
    };

    /// <summary>Iterations of `bench dispatch`, which times a multiple of them per round.</summary>
    public static readonly Option<int> DispatchIterations = new("--iterations")
    {
        Description =
            $"Reads per round, in units of {BenchDefaults.DispatchReadsPerIteration} (the default {BenchDefaults.Count(BenchDefaults.Iterations)} " +
            $"means {BenchDefaults.Count((long)BenchDefaults.Iterations * BenchDefaults.DispatchReadsPerIteration)} reads each way per round); best of {BenchDefaults.Rounds} rounds.",
        DefaultValueFactory = _ => BenchDefaults.Iterations,
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
            DispatchIterations,
        };
        dispatch.SetAction(result => DispatchBench.Execute(
            Math.Max(1, result.GetValue(DispatchIterations)) * BenchDefaults.DispatchReadsPerIteration, BenchDefaults.Rounds, Console.Out));

        Option<long> instructions = new("--instructions")
        {
            Description =
                $"Guest instructions per run of each kernel (the integer loop, the x87 kernel), timed as {CpuBenchmark.Rounds} equal rounds; " +
                $"each kernel runs {BenchDefaults.CpuRuns} times and the fastest of the {BenchDefaults.CpuRuns * CpuBenchmark.Rounds} rounds is printed. " +
                $"The default {BenchDefaults.Count(BenchDefaults.CpuInstructions)} makes rounds of {BenchDefaults.Count(CpuBenchmark.InstructionsPerRound(BenchDefaults.CpuInstructions))} instructions " +
                $"(at least {BenchDefaults.Count(CpuBenchmark.MinimumInstructions)} per run).",
            DefaultValueFactory = _ => BenchDefaults.CpuInstructions,
        };
        Command cpu = new("cpu", "The interpreter and the translator on a compute-heavy guest loop: millions of guest instructions per second, against the same loop in C# and, where installed, on QEMU TCG (booted as a multiboot image).")
        {
            instructions,
        };
        cpu.SetAction(async (result, cancellationToken) =>
        {
            long count = Math.Max(CpuBenchmark.MinimumInstructions, result.GetValue(instructions));
            string fastest = $"fastest of {BenchDefaults.CpuRuns * CpuBenchmark.Rounds} rounds";
            int fpu = CpuBenchmark.X87KernelFpuInstructions, all = CpuBenchmark.X87KernelInstructions;
            double translatorMips = 0;
            foreach (CpuExecutionMode mode in CpuModes())
            {
                string name = mode.ToString().ToLowerInvariant();
                BenchResult best = Enumerable.Range(0, BenchDefaults.CpuRuns).Select(_ => CpuBenchmark.RunComputeLoop(count, mode)).MaxBy(r => r.Mips);
                Console.Out.WriteLine($"splitemu bench cpu: {name}: {fastest}: {best}");
                PrintTranslation(best);
                if (mode == CpuExecutionMode.Translator)
                    translatorMips = best.Mips;
                BenchResult x87 = Enumerable.Range(0, BenchDefaults.CpuRuns).Select(_ => CpuBenchmark.RunX87Kernel(count, mode)).MaxBy(r => r.Mips);
                Console.Out.WriteLine($"splitemu bench cpu: {name}: x87 kernel (mix: {fpu} x87 + {all - fpu} integer of every {all} instructions): {fastest}: {x87}");
                PrintTranslation(x87);
            }
            await PrintQemuComputeLoopAsync(count, translatorMips, cancellationToken).ConfigureAwait(false);
            return 0;
        });

        Option<int> runs = new("--runs")
        {
            Description = $"Boots per machine (the median is printed); default {BenchDefaults.BootRuns}.",
            DefaultValueFactory = _ => BenchDefaults.BootRuns,
        };
        Command boot = new("boot", "SeaBIOS boots the shipped disk: time from reset to the boot sector's line, devices inline and isolated.")
        {
            runs, Json,
        };
        boot.SetAction((result, cancellationToken) => BootBench.ExecuteAsync(result.GetValue(runs), result.GetValue(Json), cancellationToken));

        Option<int> linuxRuns = new("--runs")
        {
            Description = $"Boots per machine (the median is printed); default {BenchDefaults.LinuxRuns}.",
            DefaultValueFactory = _ => BenchDefaults.LinuxRuns,
        };
        Command linux = new("linux", "Debian's kernel (profiles/linux.json) from process start to the shell's prompt, devices inline and as shipped, against QEMU on the same kernel.")
        {
            linuxRuns, Json,
        };
        linux.SetAction((result, cancellationToken) => LinuxBench.ExecuteAsync(result.GetValue(linuxRuns), result.GetValue(Json), cancellationToken));

        Option<int> sandboxRuns = new("--runs")
        {
            Description = $"Starts of each kind (percentiles are printed); default {BenchDefaults.SandboxRuns}.",
            DefaultValueFactory = _ => BenchDefaults.SandboxRuns,
        };
        Command sandbox = new("sandbox", "What the device sandbox adds to a device process's start and attach, against the same process without it.")
        {
            sandboxRuns,
        };
        sandbox.SetAction((result, cancellationToken) => SandboxBench.ExecuteAsync(result.GetValue(sandboxRuns), Console.Out, cancellationToken));

        Option<int> processRuns = new("--runs")
        {
            Description = $"Starts of each build of the device host (percentiles are printed); default {BenchDefaults.ProcessRuns}.",
            DefaultValueFactory = _ => BenchDefaults.ProcessRuns,
        };
        Option<int> machineSeconds = new("--machine-seconds")
        {
            Description = $"How long the machine of each build runs while its memory is sampled (its spares start once it is wired); default {BenchDefaults.ProcessMachineSeconds}.",
            DefaultValueFactory = _ => BenchDefaults.ProcessMachineSeconds,
        };
        Command processes = new("processes", "What a device process costs on the JIT and the native build of the host: start, attach, memory, and a machine's memory.")
        {
            processRuns, machineSeconds,
        };
        processes.SetAction((result, cancellationToken) => ProcessesBench.ExecuteAsync(result.GetValue(processRuns), result.GetValue(machineSeconds), Console.Out, cancellationToken));

        Argument<string> remoteProfile = new("profile") { Description = "A launch profile whose hosts to measure." };
        Option<int> remoteIterations = new("--iterations")
        {
            Description = $"Read round trips per row; default {BenchDefaults.Count(BenchDefaults.RemoteIterations)} (a row also stops after 10 s).",
            DefaultValueFactory = _ => BenchDefaults.RemoteIterations,
        };
        Command remote = new("remote", "Round trips and posted writes to a device process on each host of a profile, over ssh, next to the ring and the socket here.")
        {
            remoteProfile, remoteIterations, Json,
        };
        remote.SetAction((result, cancellationToken) => RemoteAsync(result.GetValue(remoteProfile)!, result.GetValue(remoteIterations), result.GetValue(Json), cancellationToken));

        return new Command("bench", "Benchmarks: the data plane, dispatch, the interpreter, a firmware boot, a Linux boot, the device sandbox, device processes, remote device processes.") { transport, mmio, dispatch, cpu, boot, linux, sandbox, processes, remote };
    }

    /// <summary>
    /// The peer's row: QEMU TCG on the same loop body, booted as a multiboot image and timed from its own marks. At
    /// least a billion instructions, so its translation and the marks' latency are a small part of the time.
    /// </summary>
    private static async Task PrintQemuComputeLoopAsync(long count, double translatorMips, CancellationToken cancellationToken)
    {
        if (!QemuPeer.IsInstalled)
        {
            Console.Out.WriteLine($"splitemu bench cpu: no peer: {QemuPeer.Executable} is not installed (Debian's qemu-system-x86)");
            return;
        }

        int iterations = (int)Math.Clamp(Math.Max(count, 1_000_000_000) / CpuBenchmark.InstructionsPerIteration, 1, int.MaxValue);
        long instructions = (long)iterations * CpuBenchmark.InstructionsPerIteration;
        (double? seconds, string problem) = await QemuPeer.TimeComputeLoopAsync(
            CpuBenchmark.MultibootComputeLoop(iterations), CpuBenchmark.MultibootMarkPort, CpuBenchmark.MultibootExitPort,
            TimeSpan.FromMinutes(2), cancellationToken).ConfigureAwait(false);
        if (seconds is not double s || s <= 0)
        {
            Console.Out.WriteLine($"splitemu bench cpu: QEMU {QemuPeer.Version()} TCG (peer): {problem}");
            return;
        }

        double mips = instructions / s / 1e6;
        string ratio = translatorMips > 0 ? $"; translator / QEMU = {translatorMips / mips:0.00}x" : "";
        Console.Out.WriteLine($"splitemu bench cpu: QEMU {QemuPeer.Version()} TCG (peer): {instructions:N0} guest instructions of the same loop in {s * 1000:F0} ms: {mips:F1} MIPS{ratio}");
    }

    /// <summary>The interpreter, and the translator where this build can compile code at run time.</summary>
    private static IEnumerable<CpuExecutionMode> CpuModes()
    {
        yield return CpuExecutionMode.Interpreter;
        if (System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled)
            yield return CpuExecutionMode.Translator;
        else
            Console.Out.WriteLine("splitemu bench cpu: translator: not run (this build has no JIT to compile guest blocks with)");
    }

    private static void PrintTranslation(BenchResult result)
    {
        if (result.Mode == CpuExecutionMode.Translator)
            Console.Out.WriteLine($"splitemu bench cpu:   translation: {result.Translation}");
    }

    /// <summary>`bench remote PROFILE`: the transport rows of this machine and one per host of the profile.</summary>
    private static async Task<int> RemoteAsync(string path, int iterations, string? jsonPath, CancellationToken cancellationToken)
    {
        ProfileLoadResult loaded = ProfileLoader.ForCurrentProcess().Load(path, []);
        if (loaded.Profile is not { } profile)
        {
            foreach (ProfileError error in loaded.Errors)
            {
                Console.Error.WriteLine(error);
            }

            return ExitCodes.BadInput;
        }

        if (profile.Hosts.Count == 0)
        {
            Console.Error.WriteLine($"splitemu bench remote: {loaded.SourceName} names no hosts");
            return ExitCodes.BadInput;
        }

        return await TransportCoreAsync("remote", new TransportBenchOptions(Math.Max(1, iterations), BenchPin.None, profile.Hosts), jsonPath, cancellationToken).ConfigureAwait(false);
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

        return await TransportCoreAsync("transport", new TransportBenchOptions(iterations, parsed.Value), jsonPath, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<int> TransportCoreAsync(string name, TransportBenchOptions options, string? jsonPath, CancellationToken cancellationToken)
    {
        StringWriter log = new();
        try
        {
            Console.Error.WriteLine($"splitemu bench {name}: {options.Iterations} iterations, pin {TransportBench.PinName(options.Pin)}");
            TransportBenchReport report = await TransportBench.RunAsync(options, Console.Error, log, cancellationToken).ConfigureAwait(false);
            TransportBench.Print(report, Console.Out, name);
            if (jsonPath is not null)
            {
                report.WriteTo(jsonPath);
            }

            return report.Rows.Any(r => r.Error is not null) ? ExitCodes.Failure : 0;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or TimeoutException or StreamJsonRpc.RemoteInvocationException)
        {
            Console.Error.WriteLine($"splitemu bench {name}: {ex.Message}");
            Console.Error.Write(log.ToString());
            return ExitCodes.Failure;
        }
    }
}
