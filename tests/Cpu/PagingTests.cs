using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu;

/// <summary>32-bit paging as the Intel SDM vol. 3 ch. 4 describes it: #PF error codes, CR2, access rights, A/D bits.</summary>
public sealed class PagingTests
{
    private const uint PagePresent = 1, PageWritable = 2, PageUser = 4, PageAccessed = 0x20, PageDirty = 0x40;
    private const uint ErrorPresent = 1, ErrorWrite = 2, ErrorUser = 4;
    /// <summary>An address inside the data page, not page aligned, to show CR2 keeps the low bits.</summary>
    private const uint Target = DataPage + 0x123;

    [Fact]
    public void Read_NotPresentPage_RaisesPageFaultWithErrorCode0AndCr2()
    {
        using var m = new ProtectedModeMachine();
        m.EnableIdentityPaging();
        m.SetPte(DataPage, DataPage | PageWritable | PageUser); // not present
        m.LoadCode(KernelCode, a => a.mov(eax, __dword_ptr[Target]));

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.PageFault), m.Eip);
        Assert.Equal(Target, m.Cpu.State.Cr2);
        Assert.Equal(0u, m.Stack(0));                   // error code: not present, read, supervisor
        Assert.Equal(KernelCode, m.Stack(4));           // EIP of the faulting instruction
        Assert.Equal(KernelCodeSelector, m.Stack(8));
    }

    [Fact]
    public void Write_ReadOnlyUserPageFromRing3_RaisesPageFaultWithErrorCode7OnKernelStack()
    {
        using var m = new ProtectedModeMachine();
        m.EnableIdentityPaging();
        m.SetPte(DataPage, DataPage | PagePresent | PageUser); // read-only
        m.EnterUserModeFromKernel();
        int length = m.LoadCode(UserCode, a => a.mov(__dword_ptr[Target], eax));

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.PageFault), m.Eip);
        Assert.Equal(Target, m.Cpu.State.Cr2);
        Assert.Equal(ErrorPresent | ErrorWrite | ErrorUser, m.Stack(0));
        Assert.Equal(UserCode, m.Stack(4));
        Assert.Equal(UserCodeSelector, m.Stack(8));
        Assert.Equal(UserStackTop, m.Stack(16));       // outer ESP and SS pushed on the TSS stack
        Assert.Equal(UserDataSelector, m.Stack(20));
        Assert.Equal(KernelStackTop - 24, m.Esp);
        Assert.True(length > 0);
    }

    [Fact]
    public void Read_SupervisorPageFromRing3_RaisesPageFaultWithErrorCode5()
    {
        using var m = new ProtectedModeMachine();
        m.EnableIdentityPaging();
        m.SetPte(DataPage, DataPage | PagePresent | PageWritable); // supervisor only
        m.EnterUserModeFromKernel();
        m.LoadCode(UserCode, a => a.mov(eax, __dword_ptr[Target]));

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.PageFault), m.Eip);
        Assert.Equal(ErrorPresent | ErrorUser, m.Stack(0));
    }

    [Theory]
    [InlineData(false, false)] // CR0.WP = 0: ring 0 may write read-only pages (386 behaviour)
    [InlineData(true, true)]   // CR0.WP = 1: it faults with P|W
    public void SupervisorWrite_ReadOnlyPage_FaultsOnlyWithWriteProtect(bool writeProtect, bool faults)
    {
        using var m = new ProtectedModeMachine();
        m.EnableIdentityPaging();
        if (writeProtect)
            m.Cpu.State.Cr0 |= ControlRegisters.Cr0Wp;
        m.SetPte(DataPage, DataPage | PagePresent);
        m.LoadCode(KernelCode, a =>
        {
            a.mov(__dword_ptr[Target], 0x1234_5678);
            a.hlt();
        });

        m.Run();

        Assert.Equal(faults ? AfterHandler(ExceptionVector.PageFault) : KernelCode + 11, m.Eip);
        Assert.Equal(faults ? 0u : 0x1234_5678u, m.ReadU32(Target));
        if (faults)
            Assert.Equal(ErrorPresent | ErrorWrite, m.Stack(0));
    }

    [Fact]
    public void ReadThenWrite_SetAccessedThenDirtyBits()
    {
        using var m = new ProtectedModeMachine();
        m.EnableIdentityPaging();
        const uint readPage = DataPage, writePage = DataPage + 0x1000;
        m.SetPte(readPage, readPage | PagePresent | PageWritable);
        m.SetPte(writePage, writePage | PagePresent | PageWritable);
        m.LoadCode(KernelCode, a =>
        {
            a.mov(eax, __dword_ptr[readPage]);
            a.mov(__dword_ptr[writePage], eax);
            a.hlt();
        });

        m.Run();

        Assert.Equal(PageAccessed, m.GetPte(readPage) & (PageAccessed | PageDirty));
        Assert.Equal(PageAccessed | PageDirty, m.GetPte(writePage) & (PageAccessed | PageDirty));
    }

    [Fact]
    public void Invlpg_AfterRemapping_UsesTheNewTranslation()
    {
        using var m = new ProtectedModeMachine();
        m.EnableIdentityPaging();
        const uint otherFrame = DataPage + 0x1000;
        m.WriteU32(DataPage, 0x1111_1111);
        m.WriteU32(otherFrame, 0x2222_2222);
        uint pteAddress = (uint)PageTable + (DataPage >> 12) * 4;
        m.LoadCode(KernelCode, a =>
        {
            a.mov(ebx, __dword_ptr[DataPage]);                       // caches the old translation
            a.mov(__dword_ptr[pteAddress], otherFrame | PagePresent | PageWritable);
            a.invlpg(__dword_ptr[DataPage]);
            a.mov(ecx, __dword_ptr[DataPage]);
            a.hlt();
        });

        m.Run();

        Assert.Equal(0x1111_1111u, (uint)m.Cpu.State.Rbx);
        Assert.Equal(0x2222_2222u, (uint)m.Cpu.State.Rcx);
    }

    [Fact]
    public void Fetch_InstructionCrossingIntoNotPresentPage_FaultsWithCr2AtTheSecondPage()
    {
        const uint nextPage = DataPage + 0x1000;
        const uint start = nextPage - 2;         // mov eax, imm32 is 5 bytes: 2 here, 3 on the next page
        using var m = new ProtectedModeMachine();
        m.EnableIdentityPaging();
        m.SetPte(nextPage, nextPage | PageWritable);     // not present
        m.LoadCode(start, a => a.mov(eax, 0x1234_5678u));
        m.LoadCode(KernelCode, a => a.jmp(start));

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.PageFault), m.Eip);
        Assert.Equal(nextPage, m.Cpu.State.Cr2);
        Assert.Equal(0u, m.Stack(0));
        Assert.Equal(start, m.Stack(4));
    }
}
