using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// A flat 32-bit guest that programs the 8254's channel 0 for Linux's 250 Hz tick (mode 2, count 4773), makes
/// one more PIT access (a read of port 0x61, where a test injects the PIT process's crash), then counts timer
/// interrupts through a window of <see cref="WindowNanoseconds"/> of TSC time and ends the machine through the
/// debug-exit port with the count. The TSC runs on the machine clock (1 GHz), so the count says whether the
/// ticks kept time while the PIT's process was gone.
/// </summary>
internal static class TickCountingGuest
{
    public const ulong LoadAddress = 0x0010_0000;
    public const ushort DebugExitPort = DebugExitReport.Port;

    /// <summary>The PIT accesses before the window: the control word, two count bytes, then the port 0x61 read.</summary>
    public const int AccessBeforeWindow = 4;

    /// <summary>The counted window: 100 periods of the 250 Hz tick.</summary>
    public const uint WindowNanoseconds = 400_000_000;

    /// <summary>Ticks a window holds on time.</summary>
    public const int TicksPerWindow = 100;

    private const ushort PitCount = 4773; // 1,193,182 Hz / 250
    private const uint Idt = 0x0020_0000, Gdt = 0x0020_1000, Counter = 0x0020_2000;
    private const uint SettleNanoseconds = 10_000_000;

    public static byte[] Build()
    {
        // Twice: the first pass finds where the handler lands (a 32-bit flat guest cannot take a label's address
        // RIP-relative), the second writes it into the gate; the code's size does not depend on it.
        (_, uint handlerAddress) = Assemble(0);
        (byte[] code, uint placed) = Assemble(handlerAddress);
        return placed == handlerAddress ? code : throw new InvalidOperationException("the tick handler moved between passes");
    }

    private static (byte[] Code, uint HandlerAddress) Assemble(uint handlerAddress)
    {
        var a = new Assembler(32);
        Label handler = a.CreateLabel("tick");

        // A GDT whose 0x08 and 0x10 are the flat segments the machine started in: interrupts and IRET load CS.
        a.mov(__dword_ptr[Gdt], 0);
        a.mov(__dword_ptr[Gdt + 4], 0);
        a.mov(__dword_ptr[Gdt + 8], 0x0000_FFFF);
        a.mov(__dword_ptr[Gdt + 12], 0x00CF_9A00);
        a.mov(__dword_ptr[Gdt + 16], 0x0000_FFFF);
        a.mov(__dword_ptr[Gdt + 20], 0x00CF_9200);
        a.sub(esp, 8);
        a.mov(__word_ptr[esp], 23);
        a.mov(__dword_ptr[esp + 2], Gdt);
        a.lgdt(__[esp]);

        // Vector 0x20: a 32-bit interrupt gate to the tick handler.
        a.mov(eax, handlerAddress);
        a.mov(edx, eax);
        a.and(eax, 0xFFFF);
        a.or(eax, 0x0008_0000);
        a.mov(__dword_ptr[Idt + (0x20 * 8)], eax);
        a.and(edx, 0xFFFF_0000);
        a.or(edx, 0x8E00);
        a.mov(__dword_ptr[Idt + (0x20 * 8) + 4], edx);
        a.mov(__word_ptr[esp], (0x21 * 8) - 1);
        a.mov(__dword_ptr[esp + 2], Idt);
        a.lidt(__[esp]);
        a.add(esp, 8);

        // The PICs: IRQ 0-7 at vectors 0x20-0x27, 8-15 at 0x28-0x2F; only IRQ 0 unmasked.
        foreach ((byte port, byte value) in new (byte, byte)[]
        {
            (0x20, 0x11), (0x21, 0x20), (0x21, 0x04), (0x21, 0x01),
            (0xA0, 0x11), (0xA1, 0x28), (0xA1, 0x02), (0xA1, 0x01),
            (0xA1, 0xFF), (0x21, 0xFE),
        })
        {
            a.mov(al, value);
            a.@out(port, al);
        }

        // Channel 0, low then high byte, mode 2, binary: 250 Hz.
        a.mov(al, 0x34);
        a.@out(0x43, al);
        a.mov(al, PitCount & 0xFF);
        a.@out(0x40, al);
        a.mov(al, (byte)(PitCount >> 8));
        a.@out(0x40, al);
        a.@in(al, 0x61); // the PIT's fourth access: the test kills its process here

        a.mov(__dword_ptr[Counter], 0);
        a.sti();
        WaitNanoseconds(a, SettleNanoseconds); // interrupts latched before STI are taken here, outside the window
        a.mov(esi, __dword_ptr[Counter]);
        WaitNanoseconds(a, WindowNanoseconds);
        a.cli();
        a.mov(eax, __dword_ptr[Counter]);
        a.sub(eax, esi);
        DebugExitReport.Emit(a);

        a.Label(ref handler);
        a.inc(__dword_ptr[Counter]);
        a.push(eax);
        a.mov(al, 0x20);
        a.@out(0x20, al); // EOI
        a.pop(eax);
        a.iretd();

        using MemoryStream code = new();
        AssemblerResult result = a.Assemble(new StreamCodeWriter(code), LoadAddress, BlockEncoderOptions.ReturnNewInstructionOffsets);
        return (code.ToArray(), (uint)result.GetLabelRIP(handler));
    }

    /// <summary>Spins until <paramref name="nanoseconds"/> of TSC time have passed (uses ebx, ebp, eax, edx).</summary>
    private static void WaitNanoseconds(Assembler a, uint nanoseconds)
    {
        Label spin = a.CreateLabel();
        a.rdtsc();
        a.mov(ebx, eax);
        a.mov(ebp, edx);
        a.Label(ref spin);
        a.rdtsc();
        a.sub(eax, ebx);
        a.sbb(edx, ebp);
        Label done = a.CreateLabel();
        a.test(edx, edx);
        a.jnz(done); // over four seconds: long past
        a.cmp(eax, nanoseconds);
        a.jb(spin);
        a.Label(ref done);
    }
}
