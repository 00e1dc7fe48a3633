using Iced.Intel;
using SplitEmu.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Launch.Bench;

/// <summary>
/// The guests of `splitemu bench mmio`: flat 32-bit protected mode (like guests/HelloGuest.cs), read a
/// device register (or write a port) <c>count</c> times in a tight loop, then write 0 to the debug-exit port.
/// </summary>
public static class MmioGuest
{
    /// <summary>Where the image is loaded and entered.</summary>
    public const ulong LoadAddress = 0x0010_0000;

    /// <summary>Initial stack pointer.</summary>
    public const uint StackTop = 0x0020_0000;

    /// <summary>MMIO base of the bench register in the benchmark's machines.</summary>
    public const uint RegisterBase = 0xFEB0_0000;

    /// <summary>The debug-exit port.</summary>
    public const ushort DebugExitPort = 0x501;

    /// <summary>In the multiprocessor loops, vCPU n's own bench register (separate devices) is at RegisterBase + n × this.</summary>
    public const uint RegisterStride = 0x1000;

    // The multiprocessor loops' shared variables, a 64-byte line each, and the application processors' stacks.
    private const uint Started = 0x0030_0000, Go = Started + 0x40, Finished = Started + 0x80;
    private const uint ApplicationProcessorStacksTop = 0x0040_0000;

    /// <summary>Assembles the loop for <paramref name="count"/> reads (0: none).</summary>
    public static byte[] Build(uint count) =>
        BuildLoop(count, setUp: _ => { }, access: a => a.mov(eax, __dword_ptr[ebx]), finish: _ => { });

    /// <summary>
    /// Assembles a loop of <paramref name="count"/> byte writes to I/O port <paramref name="port"/>, ended by one
    /// read of <paramref name="drainPort"/> (it waits until every posted write before it was handled), between
    /// the bench register's two marks.
    /// </summary>
    public static byte[] BuildPortWrites(uint count, ushort port, ushort drainPort) =>
        BuildLoop(
            count,
            setUp: a =>
            {
                a.mov(dx, port);
                a.mov(al, (byte)'.');
            },
            access: a => a.@out(dx, al),
            finish: a =>
            {
                a.mov(dx, drainPort);
                a.@in(al, dx);
            });

    /// <summary>
    /// Assembles the loop for <paramref name="cpus"/> vCPUs at once: the bootstrap processor starts the others, writes
    /// the first mark and lets them go; each vCPU reads a bench register <paramref name="readsPerCpu"/> times (the one
    /// at <see cref="RegisterBase"/>, or with <paramref name="separateDevices"/> its own, vCPU n's at RegisterBase +
    /// n × <see cref="RegisterStride"/>), then counts itself finished; when all have, the bootstrap processor writes the
    /// second mark and exits. The marks go to the register at <see cref="RegisterBase"/>, so its mark line counts
    /// its own reads: readsPerCpu × cpus for one device, readsPerCpu for separate ones.
    /// </summary>
    public static byte[] BuildMultiprocessor(int cpus, uint readsPerCpu, bool separateDevices)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cpus, 1);
        ArgumentOutOfRangeException.ThrowIfZero(readsPerCpu);
        return ApplicationProcessorStartup.Assemble(LoadAddress, (a, startup) =>
        {
            Label readLoop = a.CreateLabel("read_loop");
            Label halt = a.CreateLabel("halt");
            a.mov(esp, StackTop);
            if (cpus > 1)
            {
                startup.StartApplicationProcessors(a);
                SpinUntil(a, Started, (uint)(cpus - 1));
            }

            a.mov(__dword_ptr[RegisterBase + 0x20], 1);
            a.mov(__dword_ptr[Go], 1);
            a.xor(edi, edi); // vCPU 0 (a single-vCPU machine has no APIC to ask)
            a.call(readLoop);
            SpinUntil(a, Finished, (uint)cpus);
            a.mov(__dword_ptr[RegisterBase + 0x20], 2);
            a.mov(dx, DebugExitPort);
            a.mov(al, 0);
            a.@out(dx, al);
            a.Label(ref halt);
            a.cli();
            a.hlt();
            a.jmp(halt);

            startup.ApplicationProcessorEntry(a, ApplicationProcessorStacksTop);
            a.@lock.inc(__dword_ptr[Started]);
            SpinUntil(a, Go, 1);
            a.mov(edi, ebx);
            a.call(readLoop);
            a.jmp(halt);

            // EDI = the vCPU's index: readsPerCpu reads of its register, then it counts itself finished.
            Label read = a.CreateLabel("read");
            a.Label(ref readLoop);
            a.mov(esi, RegisterBase);
            if (separateDevices)
            {
                a.imul(eax, edi, (int)RegisterStride);
                a.add(esi, eax);
            }

            a.mov(ecx, readsPerCpu);
            a.Label(ref read);
            a.mov(eax, __dword_ptr[esi]);
            a.dec(ecx);
            a.jnz(read);
            a.@lock.inc(__dword_ptr[Finished]);
            a.ret();
        });
    }

    /// <summary>Spins with PAUSE until the dword at <paramref name="variable"/> is <paramref name="value"/> (the machine's timeout bounds it).</summary>
    private static void SpinUntil(Assembler a, uint variable, uint value)
    {
        Label again = a.CreateLabel();
        a.Label(ref again);
        a.pause();
        a.cmp(__dword_ptr[variable], value);
        a.jne(again);
    }

    /// <summary>
    /// The loop both guests share: <paramref name="setUp"/>, the bench register's first mark (the device starts
    /// its stopwatch), <paramref name="count"/> times <paramref name="access"/> (one access to the device),
    /// <paramref name="finish"/>, the second mark (the device prints reads and host time since the first), exit.
    /// EBX holds the bench register's base and ECX the count left; the three callbacks must keep both.
    /// </summary>
    private static byte[] BuildLoop(uint count, Action<Assembler> setUp, Action<Assembler> access, Action<Assembler> finish)
    {
        Assembler a = new(32);
        Label loop = a.CreateLabel("loop");
        Label done = a.CreateLabel("done");
        Label halt = a.CreateLabel("halt");
        a.mov(esp, StackTop);
        a.mov(ecx, count);
        a.mov(ebx, RegisterBase);
        setUp(a);
        a.mov(__dword_ptr[ebx + 0x20], 1);
        a.test(ecx, ecx);
        a.jz(done);
        a.Label(ref loop);
        access(a);
        a.dec(ecx);
        a.jnz(loop);
        a.Label(ref done);
        finish(a);
        a.mov(__dword_ptr[ebx + 0x20], 2);
        a.mov(dx, DebugExitPort);
        a.mov(al, 0);
        a.@out(dx, al);
        a.Label(ref halt);                         // only reached if the exit port does not stop the machine
        a.cli();
        a.hlt();
        a.jmp(halt);
        return Assemble(a);
    }

    private static byte[] Assemble(Assembler a)
    {
        using MemoryStream code = new();
        a.Assemble(new StreamCodeWriter(code), LoadAddress);
        return code.ToArray();
    }
}
