using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using SplitEmu.CpuHost.Cpu;

namespace SplitEmu.Tests.Cpu.Infrastructure;

/// <summary>
/// A flat 32-bit protected-mode machine for CPU tests, laid out as an OS would: a GDT with ring 0 and ring 3
/// code/data segments and a TSS, an IDT whose every vector points at its own <c>hlt</c> stub (so the EIP
/// after a run tells which handler ran), optional identity paging, and places for kernel and user code.
/// </summary>
public sealed class ProtectedModeMachine : IDisposable
{
    public const ulong GdtBase = 0x1000;
    public const ulong IdtBase = 0x2000;
    public const ulong TssBase = 0x3000;
    /// <summary>A second 32-bit TSS, for task-switch tests.</summary>
    public const ulong SecondTssBase = 0x3100;
    public const ulong PageDirectory = 0x4000;
    /// <summary>One page table mapping 0..4 MiB.</summary>
    public const ulong PageTable = 0x5000;
    /// <summary>Ring 0 stack top, also the TSS ESP0.</summary>
    public const uint KernelStackTop = 0x9000;
    /// <summary>Vector v's handler is a <c>hlt</c> at HandlerBase + v * HandlerStride.</summary>
    public const uint HandlerBase = 0xA000;
    public const uint HandlerStride = 16;
    public const uint KernelCode = 0x10000;
    public const uint UserCode = 0x20000;
    public const uint UserStackTop = 0x2F000;
    /// <summary>A page for test data.</summary>
    public const uint DataPage = 0x40000;

    public const ushort KernelCodeSelector = 0x08;
    public const ushort KernelDataSelector = 0x10;
    public const ushort UserCodeSelector = 0x18 | 3;
    public const ushort UserDataSelector = 0x20 | 3;
    public const ushort TssSelector = 0x28;
    /// <summary>A ring 0 data segment with a byte-granular limit of 0xFFF, for limit checks.</summary>
    public const ushort SmallDataSelector = 0x30;
    /// <summary>The second TSS (available, DPL 0).</summary>
    public const ushort SecondTssSelector = 0x38;
    /// <summary>A task gate in the GDT naming the second TSS (DPL 0).</summary>
    public const ushort TaskGateSelector = 0x40;
    /// <summary>A 32-bit call gate usable from ring 3 (DPL 3) into ring 0 code at <see cref="CallGateTarget"/>, copying one dword.</summary>
    public const ushort CallGateSelector = 0x48 | 3;
    public const uint CallGateTarget = 0x11000;

    private const ulong RamSize = 8 << 20;
    private const long DefaultBudget = 1_000_000;

    public ProtectedModeMachine()
    {
        Bus = new FakeCpuBus(RamSize);
        Cpu = new X86Cpu(Bus);
        Bus.Cpu = Cpu;

        WriteU64(GdtBase + 0x00, 0);
        WriteU64(GdtBase + 0x08, 0x00CF_9A00_0000_FFFF); // code, DPL 0, 4 GiB, 32-bit
        WriteU64(GdtBase + 0x10, 0x00CF_9200_0000_FFFF); // data, DPL 0
        WriteU64(GdtBase + 0x18, 0x00CF_FA00_0000_FFFF); // code, DPL 3
        WriteU64(GdtBase + 0x20, 0x00CF_F200_0000_FFFF); // data, DPL 3
        WriteU64(GdtBase + 0x28, SystemDescriptor(TssBase, 0x67, type: 0xB, dpl: 0)); // busy 32-bit TSS: TR holds it
        WriteU64(GdtBase + 0x30, 0x0040_9200_0000_0FFF); // data, DPL 0, limit 0xFFF bytes
        WriteU64(GdtBase + 0x38, SystemDescriptor(SecondTssBase, 0x67, type: 0x9, dpl: 0));
        WriteU64(GdtBase + 0x40, TaskGate(SecondTssSelector));
        WriteU64(GdtBase + 0x48, (CallGateTarget & 0xFFFF) | ((ulong)KernelCodeSelector << 16) | (1UL << 32)
                                 | (0xECUL << 40) | ((ulong)(CallGateTarget >> 16) << 48)); // present, DPL 3, type C

        for (int vector = 0; vector < 256; vector++)
        {
            SetInterruptGate(vector, trap: false, dpl: 0);
            Bus.Ram[(int)HandlerAddress(vector)] = 0xF4; // hlt
        }

        WriteU32(TssBase + 4, KernelStackTop);   // ESP0
        WriteU32(TssBase + 8, KernelDataSelector); // SS0
        WriteU32(TssBase + 0x66, 0x68 << 16);  // I/O map base beyond the limit: no bitmap

        Cpu.EnterFlatProtectedMode(KernelCode, KernelStackTop);
        ref CpuState s = ref Cpu.State;
        s.Gdtr = new DescriptorTableRegister { Base = GdtBase, Limit = 0x4F };
        s.Idtr = new DescriptorTableRegister { Base = IdtBase, Limit = 256 * 8 - 1 };
        s.Tr = new SegmentRegister { Selector = TssSelector, Base = TssBase, Limit = 0x67, Attributes = 0x8B };
    }

    public FakeCpuBus Bus { get; }

    /// <summary>
    /// Another processor on this machine's RAM and coherence domain, in the same execution mode: flat protected mode
    /// with the same GDT, IDT and TR, starting at <paramref name="eip"/> with its own stack at <paramref name="esp"/>.
    /// </summary>
    public X86Cpu AddProcessor(uint eip, uint esp)
    {
        var cpu = new X86Cpu(Bus, Cpu.Domain)
        {
            ExecutionMode = Cpu.ExecutionMode,
            TranslationThreshold = Cpu.TranslationThreshold,
        };
        cpu.EnterFlatProtectedMode(eip, esp);
        ref CpuState s = ref cpu.State;
        s.Gdtr = Cpu.State.Gdtr;
        s.Idtr = Cpu.State.Idtr;
        s.Tr = Cpu.State.Tr;
        return cpu;
    }

    public X86Cpu Cpu { get; }

    public static uint HandlerAddress(int vector) => HandlerBase + (uint)vector * HandlerStride;

    /// <summary>EIP after the handler for <paramref name="vector"/> executed its <c>hlt</c>.</summary>
    public static uint AfterHandler(int vector) => HandlerAddress(vector) + 1;

    public void SetInterruptGate(int vector, bool trap, int dpl)
    {
        uint offset = HandlerAddress(vector);
        ulong type = trap ? 0xFUL : 0xEUL;
        ulong gate = (offset & 0xFFFF) | ((ulong)KernelCodeSelector << 16)
                     | ((0x80UL | ((ulong)dpl << 5) | type) << 40) | ((ulong)(offset >> 16) << 48);
        WriteU64(IdtBase + (ulong)vector * 8, gate);
    }

    /// <summary>Assembles 32-bit code at <paramref name="address"/> and returns its length.</summary>
    public int LoadCode(uint address, Action<Assembler> build)
    {
        var a = new Assembler(32);
        build(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), address);
        Bus.Load(address, stream.ToArray());
        Cpu.InvalidateCode(address, (int)stream.Length);
        return (int)stream.Length;
    }

    /// <summary>
    /// Kernel code that drops to ring 3 at <see cref="UserCode"/> with the given EFLAGS (IRET to an outer level),
    /// loading DS and ES with the ring 3 data selector first as an OS would (IRET nulls ring 0 data segments).
    /// </summary>
    public void EnterUserModeFromKernel(uint userEflags = 0x2, bool loadUserDataSegments = true)
    {
        LoadCode(KernelCode, a =>
        {
            if (loadUserDataSegments)
            {
                a.mov(ax, UserDataSelector);
                a.mov(ds, ax);
                a.mov(es, ax);
            }
            a.push(UserDataSelector);
            a.push(UserStackTop);
            a.push(userEflags);
            a.push(UserCodeSelector);
            a.push(UserCode);
            a.iretd();
        });
    }

    /// <summary>Identity-maps the first 4 MiB with 4 KiB pages (present, writable, user) and turns paging on.</summary>
    public void EnableIdentityPaging()
    {
        WriteU32(PageDirectory, (uint)PageTable | 0x7);
        for (uint page = 0; page < 1024; page++)
            WriteU32(PageTable + page * 4, (page << 12) | 0x7);
        ref CpuState s = ref Cpu.State;
        s.Cr3 = PageDirectory;
        s.Cr0 |= ControlRegisters.Cr0Pg;
    }

    /// <summary>Sets the page-table entry of a linear address in the first 4 MiB.</summary>
    public void SetPte(uint linear, uint entry) => WriteU32(PageTable + (linear >> 12) * 4, entry);

    public uint GetPte(uint linear) => ReadU32(PageTable + (linear >> 12) * 4);

    public CpuRunResult Run(long budget = DefaultBudget) => Cpu.Run(budget);

    public uint Eip => (uint)Cpu.State.Rip;

    public uint Esp => (uint)Cpu.State.Gpr[Gpr.Rsp];

    /// <summary>The dword at ESP + <paramref name="offset"/> (flat stack), e.g. an exception frame.</summary>
    public uint Stack(int offset) => ReadU32(Esp + (ulong)offset);

    public uint ReadU32(ulong physical) => BitConverter.ToUInt32(Bus.Ram.Slice((int)physical, 4));

    public void WriteU32(ulong physical, uint value) => BitConverter.TryWriteBytes(Bus.Ram.Slice((int)physical, 4), value);

    public void WriteU64(ulong physical, ulong value) => BitConverter.TryWriteBytes(Bus.Ram.Slice((int)physical, 8), value);

    /// <summary>Fills the second TSS so a switch to it starts ring 0 code at <paramref name="eip"/> with flat segments.</summary>
    public void PrepareSecondTask(uint eip, uint esp)
    {
        WriteU32(SecondTssBase + 0x1C, (uint)Cpu.State.Cr3);
        WriteU32(SecondTssBase + 0x20, eip);
        WriteU32(SecondTssBase + 0x24, 0x2);   // EFLAGS
        WriteU32(SecondTssBase + 0x38, esp);   // ESP
        WriteU32(SecondTssBase + 0x4C, KernelCodeSelector);
        foreach (uint offset in new uint[] { 0x48, 0x50, 0x54, 0x58, 0x5C })
            WriteU32(SecondTssBase + offset, KernelDataSelector);
    }

    /// <summary>Points IDT vector <paramref name="vector"/> at the second TSS through a task gate.</summary>
    public void SetTaskGate(int vector) => WriteU64(IdtBase + (ulong)vector * 8, TaskGate(SecondTssSelector));

    private static ulong TaskGate(ushort tssSelector) => ((ulong)tssSelector << 16) | (0x85UL << 40);

    private static ulong SystemDescriptor(ulong baseAddress, uint limit, int type, int dpl)
        => (limit & 0xFFFF) | ((baseAddress & 0xFF_FFFF) << 16) | ((ulong)(0x80 | (dpl << 5) | type) << 40)
           | ((ulong)((limit >> 16) & 0xF) << 48) | ((baseAddress >> 24) << 56);

    public void Dispose() => Bus.Dispose();
}
