using System.Diagnostics;
using Iced.Intel;
using SplitEmu.CpuHost.Cpu.Translation;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.CpuHost.Cpu.Benchmarks;

/// <summary>Outcome of a CPU benchmark run.</summary>
/// <param name="Instructions">Guest instructions retired in the fastest timed round.</param>
/// <param name="Elapsed">Wall-clock time of the fastest timed round (after warm-up).</param>
/// <param name="NativeBaselineMips">The same loop written in C# and run natively, in millions of loop instructions per second.</param>
/// <param name="Mode">How the CPU ran the guest.</param>
/// <param name="Translation">The translator's work over the whole run, warm-up included (zero for the interpreter).</param>
public readonly record struct BenchResult(long Instructions, TimeSpan Elapsed, double NativeBaselineMips,
                                          CpuExecutionMode Mode = CpuExecutionMode.Interpreter, TranslationStatistics Translation = default)
{
    /// <summary>Millions of guest instructions per second.</summary>
    public double Mips => Instructions / Elapsed.TotalSeconds / 1e6;

    /// <summary>Interpreter speed as a fraction of the native baseline.</summary>
    public double RatioToNative => NativeBaselineMips > 0 ? Mips / NativeBaselineMips : 0;

    public override string ToString()
        => $"{Instructions:N0} guest instructions in {Elapsed.TotalMilliseconds:F0} ms: {Mips:F1} MIPS ({RatioToNative:P1} of native C# at {NativeBaselineMips:F0} M/s)";
}

/// <summary>Speed of the interpreter on a compute-heavy guest loop in RAM (flat 32-bit protected mode).</summary>
public static class CpuBenchmark
{
    private const ulong RamSize = 4 << 20;
    private const ulong CodeAddress = 0x1000;
    private const uint DataAddress = 0x10_0000;
    private const uint StackTop = 0x30_0000;
    /// <summary>Words in the data array the loop walks (4 KiB: stays in one TLB entry set, like a hot working set).</summary>
    private const int DataWords = 1024;
    /// <summary>Instructions in one iteration of the loop body below.</summary>
    public const int InstructionsPerIteration = 10;
    /// <summary>Timed rounds per run, each of a <see cref="Rounds"/>th of the run's instructions; the fastest is reported.</summary>
    public const int Rounds = 5;

    /// <summary>The fewest instructions a run takes (and a round runs).</summary>
    public const long MinimumInstructions = 1000;

    /// <summary>The instructions of one timed round of a run of <paramref name="instructions"/>.</summary>
    public static long InstructionsPerRound(long instructions) => Math.Max(instructions / Rounds, MinimumInstructions);

    /// <summary>Instructions in one iteration of the x87 kernel, and how many of them are x87 instructions.</summary>
    public const int X87KernelInstructions = 8, X87KernelFpuInstructions = 4;

    /// <summary>Doubles in the x87 kernel's array.</summary>
    private const int X87Elements = 512;

    /// <summary>
    /// Runs the compute loop for about <paramref name="instructions"/> guest instructions after a warm-up,
    /// and the same loop natively for the baseline.
    /// </summary>
    public static BenchResult RunComputeLoop(long instructions = 200_000_000, CpuExecutionMode mode = CpuExecutionMode.Interpreter) =>
        Run(AssembleLoop(), instructions, NativeBaselineMips, mode);

    /// <summary>
    /// The x87 row: a numeric kernel, s = s * c + x[i] * x[i] over an array of doubles, half of whose instructions
    /// are x87 (<see cref="X87KernelFpuInstructions"/> of <see cref="X87KernelInstructions"/>); the baseline is the
    /// same recurrence in C# doubles.
    /// </summary>
    public static BenchResult RunX87Kernel(long instructions = 100_000_000, CpuExecutionMode mode = CpuExecutionMode.Interpreter) =>
        Run(AssembleX87Kernel(), instructions, X87NativeBaselineMips, mode, data: X87Data());

    private static BenchResult Run(byte[] code, long instructions, Func<long, double> baseline, CpuExecutionMode mode, byte[]? data = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(instructions, MinimumInstructions);
        using var bus = new RamOnlyBus(RamSize);
        bus.Load(CodeAddress, code);
        if (data is not null)
        {
            bus.Load(DataAddress, data);
        }

        var cpu = new X86Cpu(bus) { ExecutionMode = mode };
        cpu.EnterFlatProtectedMode((uint)CodeAddress, StackTop);

        cpu.Run(Math.Min(instructions / 10, 10_000_000)); // warm-up: JIT tiering, decode cache, TLB

        // The machine is shared: time several rounds and keep the fastest, the least disturbed one.
        long perRound = InstructionsPerRound(instructions);
        TimeSpan best = TimeSpan.MaxValue;
        long executed = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            CpuRunResult result = cpu.Run(perRound);
            clock.Stop();
            if (clock.Elapsed < best)
            {
                best = clock.Elapsed;
                executed = result.Instructions;
            }
        }
        return new BenchResult(executed, best, baseline(perRound), mode, cpu.Translation);
    }

    /// <summary>
    /// An endless mix of loads, stores, ALU work, a rotate and a taken branch over a 4 KiB array:
    /// <code>
    /// next: mov eax,[esi+edx*4]; add eax,ebx; xor ebx,eax; rol ebx,5; mov [esi+edx*4],eax
    ///       inc edx; and edx,1023; sub ecx,1; test ecx,ecx; jmp/jnz next
    /// </code>
    /// </summary>
    private static byte[] AssembleLoop()
    {
        var a = new Assembler(32);
        Label next = EmitLoop(a, DataAddress, iterations: -1);
        a.jmp(next); // endless: ECX wraps and the body goes on
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), CodeAddress);
        return stream.ToArray();
    }

    /// <summary>The compute loop's set-up and <paramref name="iterations"/> passes of its body (ECX counts them down); returns the body's label.</summary>
    private static Label EmitLoop(Assembler a, uint data, int iterations)
    {
        a.mov(esi, data);
        a.xor(edx, edx);
        a.mov(ebx, 0x1234_5678);
        a.mov(ecx, iterations);
        var next = a.CreateLabel();
        a.Label(ref next);
        a.mov(eax, __dword_ptr[esi + edx * 4]);
        a.add(eax, ebx);
        a.xor(ebx, eax);
        a.rol(ebx, 5);
        a.mov(__dword_ptr[esi + edx * 4], eax);
        a.inc(edx);
        a.and(edx, DataWords - 1);
        a.sub(ecx, 1);
        a.test(ecx, ecx);
        a.jnz(next);
        return next;
    }

    /// <summary>Where <see cref="MultibootComputeLoop"/> is loaded (QEMU's multiboot loader wants it above 1 MiB).</summary>
    private const uint MultibootLoadAddress = 0x10_0000;

    /// <summary>The debug console port the multiboot loop writes its start and end marks to (QEMU's -debugcon).</summary>
    public const ushort MultibootMarkPort = 0xE9;

    /// <summary>The port of QEMU's isa-debug-exit device the multiboot loop ends with.</summary>
    public const ushort MultibootExitPort = 0xF4;

    /// <summary>
    /// The compute loop as a multiboot image, for a peer that boots with -kernel (QEMU): writes 'S' to
    /// <see cref="MultibootMarkPort"/>, runs <paramref name="iterations"/> passes of the same body
    /// (<see cref="InstructionsPerIteration"/> instructions each), writes 'E', then exits through
    /// <see cref="MultibootExitPort"/>. The peer is timed from the marks, so its firmware and loader are not counted.
    /// </summary>
    public static byte[] MultibootComputeLoop(int iterations)
    {
        const uint magic = 0x1BAD_B002, aoutKludge = 1 << 16, headerSize = 32;
        var a = new Assembler(32);
        a.dd(magic);
        a.dd(aoutKludge);
        a.dd(unchecked(0u - magic - aoutKludge));
        a.dd(MultibootLoadAddress);          // header_addr
        a.dd(MultibootLoadAddress);          // load_addr
        a.dd(0u);                            // load_end_addr: the whole file
        a.dd(0u);                            // bss_end_addr: none
        a.dd(MultibootLoadAddress + headerSize); // entry_addr
        a.mov(esp, MultibootLoadAddress);
        a.mov(al, (byte)'S');
        a.@out((byte)MultibootMarkPort, al);
        EmitLoop(a, MultibootLoadAddress + 0x10_0000, iterations);
        a.mov(al, (byte)'E');
        a.@out((byte)MultibootMarkPort, al);
        a.mov(al, 0);
        a.@out((byte)MultibootExitPort, al);
        var halt = a.CreateLabel();
        a.Label(ref halt);
        a.hlt();
        a.jmp(halt);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), MultibootLoadAddress);
        return stream.ToArray();
    }

    /// <summary>
    /// <code>
    /// next: fmul st0,st1; fld qword [esi+edx*8]; fmul st0,st0; faddp st1,st0
    ///       inc edx; and edx,511; sub ecx,1; jnz next
    /// </code>
    /// with st1 = 0.5 (so s stays bounded) and an endless outer jump.
    /// </summary>
    private static byte[] AssembleX87Kernel()
    {
        var a = new Assembler(32);
        a.mov(esi, DataAddress);
        a.xor(edx, edx);
        a.mov(ecx, -1);
        a.fld(__qword_ptr[DataAddress + X87Elements * 8]); // c = 0.5
        a.fldz();                                           // s = 0
        var next = a.CreateLabel();
        a.Label(ref next);
        a.fmul(st0, st1);
        a.fld(__qword_ptr[esi + edx * 8]);
        a.fmul(st0, st0);
        a.faddp(st1, st0);
        a.inc(edx);
        a.and(edx, X87Elements - 1);
        a.sub(ecx, 1);
        a.jnz(next);
        a.jmp(next);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), CodeAddress);
        return stream.ToArray();
    }

    /// <summary>The kernel's array, x[i] = 1 + i / 512, followed by the constant 0.5.</summary>
    private static byte[] X87Data()
    {
        byte[] data = new byte[(X87Elements + 1) * 8];
        for (int i = 0; i < X87Elements; i++)
        {
            BitConverter.TryWriteBytes(data.AsSpan(i * 8), 1.0 + i / (double)X87Elements);
        }

        BitConverter.TryWriteBytes(data.AsSpan(X87Elements * 8), 0.5);
        return data;
    }

    /// <summary>The x87 kernel in C# doubles, counted in guest-instruction units.</summary>
    private static double X87NativeBaselineMips(long instructions)
    {
        long iterations = instructions / X87KernelInstructions;
        double[] x = new double[X87Elements];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = 1.0 + i / (double)X87Elements;
        }

        double s = 0;
        int index = 0;
        var clock = Stopwatch.StartNew();
        for (long i = 0; i < iterations; i++)
        {
            s = s * 0.5 + x[index] * x[index];
            index = (index + 1) & (X87Elements - 1);
        }

        clock.Stop();
        GC.KeepAlive(s);
        return iterations * (double)X87KernelInstructions / clock.Elapsed.TotalSeconds / 1e6;
    }

    /// <summary>The loop body in C#, counted in the same guest-instruction units.</summary>
    private static double NativeBaselineMips(long instructions)
    {
        long iterations = instructions / InstructionsPerIteration;
        var data = new uint[DataWords];
        uint ebx = 0x1234_5678;
        int edx = 0;
        var clock = Stopwatch.StartNew();
        for (long i = 0; i < iterations; i++)
        {
            uint eax = data[edx] + ebx;
            ebx ^= eax;
            ebx = (ebx << 5) | (ebx >> 27);
            data[edx] = eax;
            edx = (edx + 1) & (DataWords - 1);
        }
        clock.Stop();
        GC.KeepAlive(ebx);
        return iterations * (double)InstructionsPerIteration / clock.Elapsed.TotalSeconds / 1e6;
    }
}
