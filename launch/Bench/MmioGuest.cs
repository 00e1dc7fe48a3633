using Iced.Intel;
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
