using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Cpu.Translation;
using SplitEmu.Tests.Cpu.Infrastructure;

namespace SplitEmu.Tests.Cpu.Differential;

/// <summary>
/// SplitEmu and Unicorn side by side, in the same 32-bit flat ring 0 state: the same RAM contents (the first
/// <see cref="SharedMemorySize"/> bytes), optionally the same identity-mapped page tables, and a register file
/// (<see cref="Gpr"/>, <see cref="Eflags"/>) that is loaded into both before every instruction.
/// </summary>
/// <remarks>
/// Layout (physical = linear): <see cref="ProtectedModeMachine"/>'s GDT, IDT, TSS, page tables and per-vector
/// <c>hlt</c> handlers below 0xB000 (SplitEmu delivers exceptions through them; Unicorn reports them to a hook),
/// the stack page at <see cref="StackLow"/>, two data pages at <see cref="DataBase"/> (below 64 KiB so 16-bit
/// addressing reaches them, and two pages so accesses straddle a page boundary), and code slots from
/// <see cref="CodeBase"/>.
/// </remarks>
internal sealed class DifferentialMachine : IDisposable
{
    public const uint StackLow = 0x8000;
    public const uint StackHigh = 0x9000;
    public const uint DataBase = 0xC000;
    public const uint DataSize = 0x2000;
    public const uint CodeBase = 0x10000;
    public const uint CodeSlots = 0x4000;
    /// <summary>One instruction, then NOPs to the end of the slot (where short branches land).</summary>
    public const uint CodeSlotSize = 32;
    /// <summary>
    /// A page of NOPs where far branches and returns land. Unicorn translates a taken branch's target before its
    /// instruction count stops it, and translating random bytes can abort QEMU's code generator ("tcg fatal
    /// error"), so every branch target holds known code. Below 64 KiB so 16-bit IPs reach it.
    /// </summary>
    public const uint LandingBase = 0xE000;
    public const uint LandingSize = 0x1000;
    public const byte Nop = 0x90;
    public const int SharedMemorySize = 0x20_0000;
    /// <summary>The page table <see cref="ProtectedModeMachine.EnableIdentityPaging"/> fills (compared for A/D bits).</summary>
    public const uint PageTable = (uint)ProtectedModeMachine.PageTable;

    private readonly ProtectedModeMachine _splitEmu;
    private readonly bool _translated;
    private readonly Unicorn _unicorn;

    /// <summary>
    /// A machine for one differential campaign. With <see cref="CpuExecutionMode.Translator"/> SplitEmu translates every
    /// instruction at first sight, as a one-instruction block (an HLT after it in SplitEmu's copy of the slot ends the
    /// block, and Unicorn never gets that far), so each instruction is checked as compiled code.
    /// </summary>
    public DifferentialMachine(bool paging, CpuExecutionMode mode = CpuExecutionMode.Interpreter)
    {
        Paging = paging;
        _splitEmu = new ProtectedModeMachine();
        _translated = mode == CpuExecutionMode.Translator;
        _splitEmu.Cpu.ExecutionMode = mode;
        _splitEmu.Cpu.TranslationThreshold = 1;
        _unicorn = new Unicorn(SharedMemorySize);
        if (paging)
            _splitEmu.EnableIdentityPaging();
        _splitEmu.Bus.Ram.Slice((int)LandingBase, (int)LandingSize).Fill(Nop);
        _splitEmu.Bus.Ram.Slice((int)CodeBase, (int)(CodeSlots * CodeSlotSize)).Fill(Nop);
        _splitEmu.Bus.Ram[..SharedMemorySize].CopyTo(_unicorn.Memory);
        // Unicorn's 32-bit mode starts with a 32-bit CS but a 16-bit stack (SS.B clear): load the data segments
        // from the same GDT so SS is the flat 32-bit segment SplitEmu has.
        _unicorn.WriteGdtr(ProtectedModeMachine.GdtBase, 0x4F);
        foreach (int segment in (ReadOnlySpan<int>)[Unicorn.RegSs, Unicorn.RegDs, Unicorn.RegEs, Unicorn.RegFs, Unicorn.RegGs])
            _unicorn.WriteRegister(segment, ProtectedModeMachine.KernelDataSelector);
        if (paging)
        {
            _unicorn.WriteRegister(Unicorn.RegCr3, (uint)ProtectedModeMachine.PageDirectory);
            _unicorn.WriteRegister(Unicorn.RegCr0, _unicorn.ReadRegister(Unicorn.RegCr0) | 0x8000_0001);
        }
        _unicorn.SaveContext();
    }

    public bool Paging { get; }

    /// <summary>The registers both CPUs start the next instruction from (EAX..EDI in ModRM order).</summary>
    public uint[] Gpr { get; } = new uint[8];

    public uint Eflags { get; set; } = EflagsBits.Reserved1;

    public X86Cpu SplitEmu => _splitEmu.Cpu;

    public Unicorn Unicorn => _unicorn;

    public Span<byte> SplitEmuRam => _splitEmu.Bus.Ram[..SharedMemorySize];

    public Span<byte> UnicornRam => _unicorn.Memory;

    /// <summary>Writes a dword into both memories.</summary>
    public void WriteMemory32(uint address, uint value)
    {
        BitConverter.TryWriteBytes(SplitEmuRam.Slice((int)address, 4), value);
        BitConverter.TryWriteBytes(UnicornRam.Slice((int)address, 4), value);
    }

    /// <summary>Fills the data and stack pages of both memories with the same random bytes.</summary>
    public void RandomizeMemory(Random rng)
    {
        Span<byte> data = SplitEmuRam.Slice((int)DataBase, (int)DataSize);
        rng.NextBytes(data);
        data.CopyTo(UnicornRam.Slice((int)DataBase, (int)DataSize));
        Span<byte> stack = SplitEmuRam.Slice((int)StackLow, (int)(StackHigh - StackLow));
        rng.NextBytes(stack);
        stack.CopyTo(UnicornRam.Slice((int)StackLow, (int)(StackHigh - StackLow)));
    }

    /// <summary>Makes Unicorn's compared memory equal to SplitEmu's again (after a mismatch or an exception).</summary>
    public void ResynchronizeMemory()
    {
        foreach ((uint start, uint length) in ComparedRegions)
            SplitEmuRam.Slice((int)start, (int)length).CopyTo(UnicornRam.Slice((int)start, (int)length));
    }

    /// <summary>The memory compared after every instruction.</summary>
    public IEnumerable<(uint Start, uint Length)> ComparedRegions
    {
        get
        {
            yield return (StackLow, StackHigh - StackLow);
            yield return (DataBase, DataSize);
            if (Paging)
                yield return (PageTable, 0x1000);
        }
    }

    /// <summary>Copies an instruction into code slot <paramref name="slot"/> of both machines; returns its address.</summary>
    public uint LoadInstruction(uint slot, ReadOnlySpan<byte> bytes)
    {
        uint address = SlotAddress(slot);
        Span<byte> mine = SplitEmuRam.Slice((int)address, (int)CodeSlotSize);
        mine.Fill(Nop);
        // JMP $ at the end of the slot: Unicorn's translation blocks stop there instead of running on through
        // the following slots (most of its time per step is translation).
        mine[^2] = 0xEB;
        mine[^1] = 0xFE;
        bytes.CopyTo(mine);
        mine.CopyTo(UnicornRam.Slice((int)address, (int)CodeSlotSize));
        if (_translated && bytes.Length < mine.Length - 2)
            mine[bytes.Length] = 0xF4; // hlt: the translated block is this one instruction
        SplitEmu.InvalidateCode(address, (int)CodeSlotSize);
        // Each slot is used once per round, and no translation starts inside a slot before it is loaded (branches
        // land in their own slot's padding or the landing page), so Unicorn's translations only go stale when the
        // slots wrap: one flush per round instead of an invalidation per instruction.
        if (slot % CodeSlots == 0 && slot != 0)
            _unicorn.FlushCode();
        return address;
    }

    public static uint SlotAddress(uint slot) => CodeBase + slot % CodeSlots * CodeSlotSize;

    /// <summary>Loads <see cref="Gpr"/>, <see cref="Eflags"/> and EIP into both CPUs.</summary>
    public void LoadRegisters(uint eip)
    {
        ref CpuState s = ref SplitEmu.State;
        for (int i = 0; i < 8; i++)
        {
            s.Gpr[i] = Gpr[i];
            _unicorn.WriteRegister(Unicorn.GprIds[i], Gpr[i]);
        }
        s.Rip = eip;
        s.Eflags = Eflags;
        _unicorn.WriteRegister(Unicorn.RegEflags, Eflags);
        _unicorn.WriteRegister(Unicorn.RegEip, eip);
    }

    public void Dispose()
    {
        _unicorn.Dispose();
        _splitEmu.Dispose();
    }
}
