using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu;

/// <summary>
/// Corner cases where a 386 differs from the obvious reading, each with its siblings in the other operand and
/// stack sizes (SDM vol. 2 instruction pages; the 386 behaviour Bochs models): mixed 16/32-bit stacks for
/// PUSHA/ENTER, ENTER's final stack check, IDIV's most negative quotient, faulting POP to memory, task
/// switches into 16-bit TSSs and into virtual-8086 mode.
/// </summary>
public sealed class StackAndTaskCornerCaseTests
{
    /// <summary>A ring 0 data segment with B = 0 (a 16-bit stack when loaded into SS), base 0, limit FFFFh.</summary>
    private const ushort SmallStackSelector = 0x50;

    /// <summary>A 16-bit TSS (available) at <see cref="Tss16Base"/>.</summary>
    private const ushort Tss16Selector = 0x58;
    private const uint Tss16Base = 0x3200;
    private const uint LowCode = 0xC000;

    private static ProtectedModeMachine NewMachine()
    {
        var m = new ProtectedModeMachine();
        m.WriteU64(GdtBase + SmallStackSelector, 0x0000_9200_0000_FFFF);
        m.WriteU64(GdtBase + Tss16Selector, 0x0000_8100_0000_002BUL | ((ulong)Tss16Base << 16));
        m.Cpu.State.Gdtr.Limit = 0x5F;
        return m;
    }

    private static void LoadSmallStack(Iced.Intel.Assembler a, uint stackPointer)
    {
        a.mov(ax, SmallStackSelector);
        a.mov(ss, ax);
        a.mov(esp, stackPointer);
    }

    [Fact]
    public void Pushad_OnA16BitStack_PushesAllOfEsp()
    {
        using ProtectedModeMachine m = NewMachine();
        m.LoadCode(KernelCode, a => { LoadSmallStack(a, 0x1234_8000); a.pushad(); a.hlt(); });

        m.Run();

        Assert.Equal(0x1234_8000u, m.ReadU32(0x8000 - 5 * 4)); // the ESP slot: EAX, ECX, EDX, EBX, then ESP
        Assert.Equal(0x1234_7FE0u, m.Esp);                      // only SP moved
    }

    [Fact]
    public void Pushaw_OnA32BitStack_PushesTheLow16BitsOfEsp()
    {
        using ProtectedModeMachine m = NewMachine();
        m.LoadCode(KernelCode, a => { a.mov(esp, 0x0001_8000); a.pusha(); a.hlt(); });

        m.Run();

        Assert.Equal((ushort)0x8000, (ushort)m.ReadU32(0x1_8000 - 5 * 2));
        Assert.Equal(0x0001_7FF0u, m.Esp);
    }

    [Fact]
    public void Enterd_OnA16BitStack_TakesTheFramePointerFromAllOfEsp()
    {
        using ProtectedModeMachine m = NewMachine();
        m.LoadCode(KernelCode, a =>
        {
            LoadSmallStack(a, 0x1234_8000);
            a.mov(ebp, 0xAAAA_7000);
            a.enter(8, 1);
            a.hlt();
        });

        m.Run();

        Assert.Equal(0xAAAA_7000u, m.ReadU32(0x7FFC)); // old EBP, all 32 bits
        Assert.Equal(0x1234_7FFCu, m.ReadU32(0x7FF8)); // the frame pointer pushed for level 1
        Assert.Equal(0x1234_7FFCu, (uint)m.Cpu.State.Rbp);
        Assert.Equal(0x1234_7FF0u, m.Esp);
    }

    [Fact]
    public void Enterw_OnA32BitStack_LoadsBpWithTheLow16BitsOfTheFrame()
    {
        using ProtectedModeMachine m = NewMachine();
        m.LoadCode(KernelCode, a =>
        {
            a.mov(esp, 0x0001_8000);
            a.mov(ebp, 0xAAAA_7000);
            EnterWord(a, 4, 0);
            a.hlt();
        });

        m.Run();

        Assert.Equal((ushort)0x7000, (ushort)m.ReadU32(0x1_7FFE));
        Assert.Equal(0xAAAA_7FFEu, (uint)m.Cpu.State.Rbp); // BP = low 16 bits of ESP; EBP's upper half kept
        Assert.Equal(0x0001_7FFAu, m.Esp);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Enter_FromRing3_WhoseFinalStackPointerIsOnASupervisorPage_RaisesPageFault(bool is16)
    {
        using ProtectedModeMachine m = NewMachine();
        const uint userEsp = 0x2F010, supervisorPage = 0x2E000;
        m.EnableIdentityPaging();
        m.SetPte(supervisorPage, supervisorPage | 0x3); // present, writable, supervisor only
        m.EnterUserModeFromKernel();
        m.LoadCode(UserCode, a =>
        {
            a.mov(esp, userEsp);
            if (is16) EnterWord(a, 0x20, 0); else a.enter(0x20, 0);
            a.hlt();
        });

        m.Run();

        uint finalSp = userEsp - (is16 ? 2u : 4u) - 0x20;
        Assert.Equal(AfterHandler(ExceptionVector.PageFault), m.Eip);
        Assert.Equal(finalSp, m.Cpu.State.Cr2);
        Assert.Equal(7u, m.Stack(0));            // present | write | user
        Assert.Equal(userEsp, m.Stack(16));      // ESP as before the ENTER
    }

    [Theory]
    [InlineData(1, 0xFF00u, 0u, 2u, 0x0080u, 0u)]                      // AX = -256 / 2 = -128 (AL), remainder 0 (AH)
    [InlineData(1, 0xFF7Fu, 0u, 1u, 0xFFu, 0u)]                        // -129 / 1 overflows: #DE (checked below)
    [InlineData(2, 0x0000u, 0xFFFFu, 2u, 0x8000u, 0u)]                 // DX:AX = -65536 / 2 = -32768
    [InlineData(4, 0x0000_0000u, 0xFFFF_FFFFu, 2u, 0x8000_0000u, 0u)] // EDX:EAX = -2^32 / 2 = -2^31
    public void Idiv_WhoseQuotientIsTheMostNegativeValue_IsValid(int size, uint low, uint high, uint divisor, uint quotient, uint remainder)
    {
        bool overflows = size == 1 && low == 0xFF7F;
        using ProtectedModeMachine m = NewMachine();
        m.WriteU32(DataPage, divisor);
        m.LoadCode(KernelCode, a =>
        {
            a.mov(eax, low);
            a.mov(edx, high);
            if (size == 1) a.idiv(__byte_ptr[DataPage]);
            else if (size == 2) a.idiv(__word_ptr[DataPage]);
            else a.idiv(__dword_ptr[DataPage]);
            a.hlt();
        });

        m.Run();

        if (overflows)
        {
            Assert.Equal(AfterHandler(ExceptionVector.DivideError), m.Eip);
            return;
        }
        Assert.NotEqual(AfterHandler(ExceptionVector.DivideError), m.Eip);
        if (size == 1)
        {
            Assert.Equal(quotient, (uint)m.Cpu.State.Rax & 0xFF);
            Assert.Equal(remainder, ((uint)m.Cpu.State.Rax >> 8) & 0xFF);
        }
        else
        {
            uint mask = size == 2 ? 0xFFFFu : 0xFFFF_FFFFu;
            Assert.Equal(quotient, (uint)m.Cpu.State.Rax & mask);
            Assert.Equal(remainder, (uint)m.Cpu.State.Rdx & mask);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Idiv_ByMinusOne_OfTheMostNegativeDividend_RaisesDivideError(bool byte8)
    {
        using ProtectedModeMachine m = NewMachine();
        m.LoadCode(KernelCode, a =>
        {
            if (byte8) { a.mov(eax, 0xFF80); a.mov(bl, 0xFF); a.idiv(bl); }  // -128 / -1 = 128
            else { a.mov(eax, 0x8000); a.mov(edx, 0xFFFF); a.mov(bx, 0xFFFF); a.idiv(bx); } // -32768 / -1
            a.hlt();
        });

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.DivideError), m.Eip);
    }

    /// <summary>
    /// POP to memory whose write faults leaves ESP as it was before the instruction, so the instruction can be
    /// restarted (the 386 and later; the 286 has already moved SP, see docs/ssts-exclusions.md).
    /// </summary>
    [Theory]
    [InlineData(2, false)]
    [InlineData(4, false)]
    [InlineData(2, true)]
    [InlineData(4, true)]
    public void PopToMemory_WhoseWriteFaults_LeavesEspUnchanged(int size, bool pageFault)
    {
        using ProtectedModeMachine m = NewMachine();
        if (pageFault)
        {
            m.EnableIdentityPaging();
            m.SetPte(DataPage, DataPage | 0x6); // not present
        }
        int popOffset = m.LoadCode(KernelCode, a =>
        {
            a.push(0x1234);
            if (!pageFault)
            {
                a.mov(ax, SmallDataSelector); // limit FFFh: an operand at FFFh crosses it
                a.mov(ds, ax);
            }
        });
        uint address = pageFault ? DataPage : 0x1000u - 1;
        m.LoadCode(KernelCode + (uint)popOffset, a =>
        {
            if (size == 2) a.pop(__word_ptr[address]); else a.pop(__dword_ptr[address]);
            a.hlt();
        });

        m.Run();

        int vector = pageFault ? ExceptionVector.PageFault : ExceptionVector.GeneralProtection;
        Assert.Equal(AfterHandler(vector), m.Eip);
        Assert.Equal(KernelCode + (uint)popOffset, m.Stack(4)); // the POP itself
        Assert.Equal(KernelStackTop - 4 - 16, m.Esp);            // error code, EIP, CS, EFLAGS on the pushed word
    }

    [Fact]
    public void TaskSwitch_IntoA16BitTss_SetsTheUpperHalvesOfTheRegistersToFfffh()
    {
        using ProtectedModeMachine m = NewMachine();
        WriteU16(m, Tss16Base + 0x0E, (ushort)LowCode);          // IP
        WriteU16(m, Tss16Base + 0x10, 0x0002);                   // FLAGS
        for (uint r = 0; r < 8; r++)
            WriteU16(m, Tss16Base + 0x12 + r * 2, (ushort)(0x1100 + r)); // AX..DI
        WriteU16(m, Tss16Base + 0x12 + 4 * 2, 0x7000);           // SP
        WriteU16(m, Tss16Base + 0x22, KernelDataSelector);       // ES
        WriteU16(m, Tss16Base + 0x24, KernelCodeSelector);       // CS
        WriteU16(m, Tss16Base + 0x26, KernelDataSelector);       // SS
        WriteU16(m, Tss16Base + 0x28, KernelDataSelector);       // DS
        m.LoadCode(LowCode, a => a.hlt());
        m.LoadCode(KernelCode, a =>
        {
            a.pushfd();
            a.or(__dword_ptr[esp], 1 << 18); // AC: an upper-half flag the 16-bit TSS cannot hold
            a.popfd();
            a.mov(eax, 0x5555_5555);
            a.mov(ebx, 0x6666_6666);
            a.mov(ax, KernelDataSelector);   // FS: a 16-bit TSS has none, so the switch makes it null
            a.mov(fs, ax);
            a.jmp(Tss16Selector, 0);
        });

        m.Run();

        Assert.Equal(LowCode + 1, m.Eip);
        Assert.Equal(0xFFFF_1100u, (uint)m.Cpu.State.Rax);
        Assert.Equal(0xFFFF_1103u, (uint)m.Cpu.State.Rbx);
        Assert.Equal(0xFFFF_1107u, (uint)m.Cpu.State.Rdi);
        Assert.Equal(0xFFFF_7000u, m.Esp);
        Assert.Equal(0u, m.Cpu.State.Eflags & 0xFFFF_0000);
        Assert.Equal(0, m.Cpu.State.Segments[SegmentIndex.FS].Selector);
    }

    [Fact]
    public void TaskSwitch_IntoATssWithVmSet_RunsTheTaskInVirtual8086Mode()
    {
        using ProtectedModeMachine m = NewMachine();
        const ushort v86Segment = (ushort)(LowCode >> 4);
        m.PrepareSecondTask(0, 0x100);
        m.WriteU32(SecondTssBase + 0x24, EflagsBits.VM | EflagsBits.Reserved1);
        foreach (uint offset in new uint[] { 0x48, 0x4C, 0x50, 0x54, 0x58, 0x5C })
            m.WriteU32(SecondTssBase + offset, v86Segment);
        m.WriteU32(SecondTssBase + 0x04, 0x8800);               // ESP0: where the #GP from virtual-8086 mode lands
        m.WriteU32(SecondTssBase + 0x08, KernelDataSelector);   // SS0
        m.Bus.Ram[(int)LowCode] = 0x90;                          // nop
        m.Bus.Ram[(int)LowCode + 1] = 0xF4;                      // hlt: #GP at CPL 3
        m.LoadCode(KernelCode, a => a.jmp(SecondTssSelector, 0));

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
        Assert.Equal(1u, m.Stack(4));                           // IP of the HLT: the NOP ran in the task
        Assert.Equal(v86Segment, (ushort)m.Stack(8));          // CS
        Assert.NotEqual(0u, m.Stack(12) & EflagsBits.VM);       // EFLAGS of the interrupted task
        Assert.Equal(v86Segment, (ushort)m.Stack(24));         // ES pushed by the exit from virtual-8086 mode
    }

    /// <summary>ENTER with a 16-bit operand size in 32-bit code (66h C8h iw ib), which the assembler has no name for.</summary>
    private static void EnterWord(Iced.Intel.Assembler a, ushort size, byte level) =>
        a.db(0x66, 0xC8, (byte)size, (byte)(size >> 8), level);

    private static void WriteU16(ProtectedModeMachine m, uint address, ushort value) =>
        BitConverter.TryWriteBytes(m.Bus.Ram.Slice((int)address, 2), value);
}
