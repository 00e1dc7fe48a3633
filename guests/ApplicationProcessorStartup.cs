using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Guests;

/// <summary>
/// How a flat 32-bit guest starts its application processors: the MultiProcessor Specification's universal start-up
/// algorithm (INIT, then two start-up IPIs to all but itself through the local APIC) and the real-mode code they
/// start in, which loads a flat GDT, enters protected mode and jumps to the guest's entry for them. Used by the SMP
/// test guest and the benchmark's multiprocessor loops.
/// </summary>
/// <remarks>
/// The start-up code is copied to <see cref="TrampolineAddress"/> (below 1 MiB, page aligned: start-up vector 0x08)
/// and loads the GDT the bootstrap processor writes at <see cref="GdtAddress"/>: null, flat code 0x08, flat data 0x10.
/// 32-bit code cannot take a label's address as a value, so <see cref="Assemble"/> assembles twice: the first pass
/// finds where the start-up code's bytes and the processors' entry land, the second writes them in (imm32s both
/// times, so nothing moves).
/// </remarks>
public sealed class ApplicationProcessorStartup
{
    /// <summary>Where the start-up code runs (start-up IPI vector <see cref="TrampolineAddress"/> / 4096).</summary>
    public const uint TrampolineAddress = 0x8000;

    /// <summary>The GDT the application processors load, then its 6-byte pseudo-descriptor.</summary>
    public const uint GdtAddress = 0x7000;

    /// <summary>The local APIC ID register: the ID is in bits 24-31.</summary>
    public const uint ApicIdRegister = ApicBase + 0x20;

    /// <summary>Stack bytes each processor gets below the top the guest names.</summary>
    public const uint StackBytes = 0x4000;

    private const uint ApicBase = 0xFEE0_0000;
    private const uint ApicSpurious = ApicBase + 0xF0;
    private const uint ApicIcrLow = ApicBase + 0x300;
    private const uint ApicIcrHigh = ApicBase + 0x310;

    /// <summary>Where the 32-bit part of the start-up code finds the guest's entry address.</summary>
    private const uint EntrySlot = TrampolineAddress + 0xFC;

    private static readonly byte[] s_trampoline = BuildTrampoline();

    private readonly uint _trampolineBytesAddress;
    private readonly uint _entryAddress;
    private Label _entry;

    private ApplicationProcessorStartup(Assembler a, uint trampolineBytesAddress, uint entryAddress)
    {
        _trampolineBytesAddress = trampolineBytesAddress;
        _entryAddress = entryAddress;
        _entry = a.CreateLabel("ap_entry");
    }

    /// <summary>
    /// Assembles the image <paramref name="emit"/> writes, loaded at <paramref name="loadAddress"/>; it must call
    /// <see cref="StartApplicationProcessors"/> on the bootstrap processor's path and <see cref="ApplicationProcessorEntry"/>
    /// once where the application processors begin. The start-up code's bytes go at the end.
    /// </summary>
    public static byte[] Assemble(ulong loadAddress, Action<Assembler, ApplicationProcessorStartup> emit)
    {
        (_, uint trampolineBytes, uint entry) = Pass(loadAddress, emit, 0, 0);
        return Pass(loadAddress, emit, trampolineBytes, entry).Image;
    }

    /// <summary>
    /// The bootstrap processor's part: writes the GDT, copies the start-up code below 1 MiB, software-enables its local
    /// APIC and sends INIT, start-up, start-up to all but itself. Clobbers EAX, ECX, ESI, EDI and the direction flag.
    /// </summary>
    public void StartApplicationProcessors(Assembler a)
    {
        a.mov(__dword_ptr[GdtAddress], 0u);
        a.mov(__dword_ptr[GdtAddress + 4], 0u);
        a.mov(__dword_ptr[GdtAddress + 8], 0x0000_FFFFu);
        a.mov(__dword_ptr[GdtAddress + 12], 0x00CF_9A00u);
        a.mov(__dword_ptr[GdtAddress + 16], 0x0000_FFFFu);
        a.mov(__dword_ptr[GdtAddress + 20], 0x00CF_9200u);
        a.mov(__word_ptr[GdtAddress + 24], 23);
        a.mov(__dword_ptr[GdtAddress + 26], GdtAddress);
        a.lgdt(__[GdtAddress + 24]);
        a.mov(esi, _trampolineBytesAddress);
        a.mov(edi, TrampolineAddress);
        a.mov(ecx, (uint)s_trampoline.Length);
        a.cld();
        a.rep.movsb();
        a.mov(__dword_ptr[EntrySlot], _entryAddress);

        a.mov(__dword_ptr[ApicSpurious], 0x1FFu); // software-enabled, spurious vector 0xFF
        a.mov(__dword_ptr[ApicIcrHigh], 0u);
        a.mov(__dword_ptr[ApicIcrLow], 0x000C_4500u); // all excluding self, INIT, assert
        a.mov(ecx, 100_000u);
        var initDelay = a.CreateLabel();
        a.Label(ref initDelay);
        a.pause();
        a.dec(ecx);
        a.jnz(initDelay);
        a.mov(__dword_ptr[ApicIcrLow], 0x000C_4600u | (TrampolineAddress >> 12)); // start-up
        a.mov(__dword_ptr[ApicIcrLow], 0x000C_4600u | (TrampolineAddress >> 12)); // and again, as the algorithm says
    }

    /// <summary>
    /// Where the application processors arrive in flat protected mode: loads DS, ES and SS, leaves the local APIC ID
    /// in EBX and sets ESP to <paramref name="stacksTop"/> - ID × <see cref="StackBytes"/>. Clobbers EAX.
    /// </summary>
    public void ApplicationProcessorEntry(Assembler a, uint stacksTop)
    {
        a.Label(ref _entry);
        a.mov(ax, 0x10);
        a.mov(ds, ax);
        a.mov(es, ax);
        a.mov(ss, ax);
        a.mov(ebx, __dword_ptr[ApicIdRegister]);
        a.shr(ebx, 24);
        a.mov(eax, ebx);
        a.imul(eax, eax, (int)StackBytes);
        a.mov(esp, stacksTop);
        a.sub(esp, eax);
    }

    private static (byte[] Image, uint TrampolineBytes, uint Entry) Pass(
        ulong loadAddress, Action<Assembler, ApplicationProcessorStartup> emit, uint trampolineBytesAddress, uint entryAddress)
    {
        var a = new Assembler(32);
        ApplicationProcessorStartup startup = new(a, trampolineBytesAddress, entryAddress);
        emit(a, startup);
        var trampolineBytes = a.CreateLabel("trampoline_bytes");
        a.Label(ref trampolineBytes);
        a.db(s_trampoline);

        using var stream = new MemoryStream();
        AssemblerResult result = a.Assemble(new StreamCodeWriter(stream), loadAddress, BlockEncoderOptions.ReturnNewInstructionOffsets);
        return (stream.ToArray(), (uint)result.GetLabelRIP(trampolineBytes), (uint)result.GetLabelRIP(startup._entry));
    }

    /// <summary>
    /// The start-up code, run from <see cref="TrampolineAddress"/> in real mode: load the guest's GDT, enter protected
    /// mode, far jump to its own 32-bit part, which jumps to the address the bootstrap processor stored at
    /// <see cref="EntrySlot"/>.
    /// </summary>
    private static byte[] BuildTrampoline()
    {
        var real = new Assembler(16);
        real.cli();
        real.xor(ax, ax);
        real.mov(ds, ax);
        real.lgdt(__[GdtAddress + 24]);
        real.mov(eax, cr0);
        real.or(eax, 1);
        real.mov(cr0, eax);
        real.jmp(0x08, TrampolineAddress + 0x80);
        using var realStream = new MemoryStream();
        real.Assemble(new StreamCodeWriter(realStream), TrampolineAddress);

        var flat = new Assembler(32);
        flat.mov(ax, 0x10);
        flat.mov(ds, ax);
        flat.mov(eax, __dword_ptr[EntrySlot]);
        flat.jmp(eax);
        using var flatStream = new MemoryStream();
        flat.Assemble(new StreamCodeWriter(flatStream), TrampolineAddress + 0x80);

        byte[] code = new byte[0x100];
        realStream.ToArray().CopyTo(code, 0);
        flatStream.ToArray().CopyTo(code, 0x80);
        return code;
    }
}
