using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu;

/// <summary>
/// The i686 system features a Linux 686 kernel uses (SDM vol. 2 and 3): CPUID, the MSRs it reads, SYSENTER/SYSEXIT,
/// global pages, RDPMC. Expected values come from the SDM pages, not from the code under test.
/// </summary>
public sealed class I686SystemTests
{
    private const uint PagePresent = 1, PageWritable = 2, PageUser = 4, PageGlobal = 0x100;

    private static ProtectedModeMachine RunKernel(Action<Iced.Intel.Assembler> code)
    {
        var m = new ProtectedModeMachine();
        m.LoadCode(KernelCode, a => { code(a); a.hlt(); });
        m.Run();
        return m;
    }

    [Fact]
    public void Cpuid_Leaf0_SaysGenuineIntelWithMaximumLeaf2()
    {
        using ProtectedModeMachine m = RunKernel(a => { a.xor(eax, eax); a.cpuid(); });

        Assert.Equal(2u, (uint)m.Cpu.State.Rax);
        Assert.Equal("GenuineIntel", Ascii((uint)m.Cpu.State.Rbx, (uint)m.Cpu.State.Rdx, (uint)m.Cpu.State.Rcx));
    }

    [Fact]
    public void Cpuid_Leaf1_IsFamily6WithExactlyTheImplementedFeatures()
    {
        using ProtectedModeMachine m = RunKernel(a => { a.mov(eax, 1); a.cpuid(); });

        uint signature = (uint)m.Cpu.State.Rax;
        Assert.Equal(6u, (signature >> 8) & 0xF);
        Assert.True(((signature >> 4) & 0xF) >= 3, "model 3 or later: Linux distrusts SEP below it");
        uint edx = (uint)m.Cpu.State.Rdx;
        const uint fpu = 1 << 0, fxsr = 1 << 24, pse = 1 << 3, tsc = 1 << 4, msr = 1 << 5, cx8 = 1 << 8, apic = 1 << 9, sep = 1 << 11, mtrr = 1 << 12,
            pge = 1 << 13, cmov = 1 << 15, pat = 1 << 16, mmx = 1 << 23, sse = 1 << 25, pae = 1 << 6, vme = 1 << 1;
        Assert.Equal(fpu | fxsr | pse | tsc | msr | cx8 | sep | pge | cmov, edx & (fpu | fxsr | pse | tsc | msr | cx8 | sep | pge | cmov));
        Assert.Equal(0u, edx & (apic | mtrr | pat | mmx | sse | pae | vme));
        Assert.Equal(0u, (uint)m.Cpu.State.Rcx);
    }

    [Fact]
    public void Cpuid_ExtendedLeaves_GiveTheBrandString_AndLeavesAboveTheMaximumRepeatLeaf2()
    {
        using ProtectedModeMachine m = RunKernel(a =>
        {
            a.mov(eax, 0x8000_0000);
            a.cpuid();
            a.mov(__dword_ptr[DataPage], eax);
            for (uint leaf = 0x8000_0002; leaf <= 0x8000_0004; leaf++)
            {
                uint at = DataPage + 4 + (leaf - 0x8000_0002) * 16;
                a.mov(eax, leaf);
                a.cpuid();
                a.mov(__dword_ptr[at], eax);
                a.mov(__dword_ptr[at + 4], ebx);
                a.mov(__dword_ptr[at + 8], ecx);
                a.mov(__dword_ptr[at + 12], edx);
            }
            a.mov(eax, 2);
            a.cpuid();
            a.mov(esi, eax);
            a.mov(eax, 0x4000_0000); // above the maximum basic leaf
            a.cpuid();
        });

        Assert.Equal(0x8000_0004u, m.ReadU32(DataPage));
        string brand = System.Text.Encoding.ASCII.GetString(m.Bus.Ram.Slice((int)DataPage + 4, 48)).TrimEnd('\0');
        Assert.Contains("SplitEmu", brand, StringComparison.Ordinal);
        Assert.Equal((uint)m.Cpu.State.Rsi, (uint)m.Cpu.State.Rax);
        Assert.NotEqual(0u, (uint)m.Cpu.State.Rax);
    }

    [Theory]
    [InlineData(0x174u, 0x0008u)]
    [InlineData(0x175u, 0x1234_5678u)]
    [InlineData(0x176u, 0x8765_4320u)]
    public void SysenterMsrs_ReadBackWhatWasWritten(uint msr, uint value)
    {
        using ProtectedModeMachine m = RunKernel(a =>
        {
            a.mov(ecx, msr);
            a.mov(eax, value);
            a.xor(edx, edx);
            a.wrmsr();
            a.xor(eax, eax);
            a.rdmsr();
        });

        Assert.Equal(KernelCode + 0u, m.Eip & 0xFFFF_0000); // no handler ran
        Assert.Equal(value, (uint)m.Cpu.State.Rax);
    }

    [Fact]
    public void TscWrite_ReadsBackAndRunsOn_AlsoWhenTheTscFollowsTheMachineClock()
    {
        ulong now = 5_000_000_000; // the machine clock, in nanoseconds
        using ProtectedModeMachine m = new();
        m.Cpu.TimeStampSource = () => now += 10; // time passes between reads
        m.LoadCode(KernelCode, a =>
        {
            a.mov(ecx, 0x10); // IA32_TIME_STAMP_COUNTER
            a.mov(eax, 0x100);
            a.xor(edx, edx);
            a.wrmsr();
            a.rdtsc();
            a.hlt();
        });
        m.Run();

        Assert.Equal(KernelCode + 0u, m.Eip & 0xFFFF_0000); // no fault
        Assert.Equal(0u, (uint)m.Cpu.State.Rdx);
        Assert.Equal(0x100u + 10, (uint)m.Cpu.State.Rax); // the written value, and the 10 ns that passed since
    }

    [Fact]
    public void MicrocodeRevisionQuery_AsLinuxDoesIt_DoesNotFault()
    {
        using ProtectedModeMachine m = RunKernel(a =>
        {
            a.mov(ecx, 0x8B); // IA32_BIOS_SIGN_ID
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(eax, 1);
            a.cpuid();
            a.mov(ecx, 0x8B);
            a.rdmsr();
            a.mov(ecx, 0x17); // IA32_PLATFORM_ID
            a.rdmsr();
            a.mov(ebx, 0x600D);
        });

        Assert.Equal(0x600Du, (uint)m.Cpu.State.Rbx);
    }

    [Theory]
    [InlineData(0xC1u)]  // PerfCtr0
    [InlineData(0xC2u)]  // PerfCtr1
    [InlineData(0x186u)] // PerfEvtSel0
    [InlineData(0x187u)] // PerfEvtSel1
    public void PerformanceCounterMsrs_ExistButHoldNothing_SoAWriteReadBackProbeSeesNoPmu(uint msr)
    {
        using ProtectedModeMachine m = RunKernel(a =>
        {
            a.mov(ecx, msr);
            a.mov(eax, 0xFFFF); // what Linux's check_hw_exists writes
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(eax, 0x1234);
            a.rdmsr();
        });

        Assert.Equal(KernelCode + 0u, m.Eip & 0xFFFF_0000); // neither faulted
        Assert.Equal(0u, (uint)m.Cpu.State.Rax);
    }

    [Theory]
    [InlineData(0x1Bu)]        // IA32_APIC_BASE: no APIC
    [InlineData(0xFEu)]        // IA32_MTRRCAP: MTRR not claimed
    [InlineData(0x277u)]       // IA32_PAT: PAT not claimed
    [InlineData(0x1A0u)]       // IA32_MISC_ENABLE: a Pentium 4 register
    [InlineData(0xC000_0080u)] // EFER: no long mode or NX
    public void MsrsOfFeaturesNotClaimed_RaiseGeneralProtection(uint msr)
    {
        using ProtectedModeMachine m = RunKernel(a => { a.mov(ecx, msr); a.rdmsr(); });

        Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
        Assert.Equal(0u, m.Stack(0));
    }

    [Fact]
    public void Sysenter_FromRing3_EntersFlatRing0AtTheMsrTarget_AndSysexitReturns()
    {
        using var m = new ProtectedModeMachine();
        const uint entry = KernelCode + 0x800, kernelStack = 0x8800, userReturn = UserCode + 0x100, userStack = UserStackTop - 0x40;
        m.LoadCode(entry, a =>
        {
            a.mov(esi, esp);        // what SYSENTER loaded
            a.pushfd();
            a.pop(edi);             // IF and VM cleared
            a.mov(edx, userReturn);
            a.mov(ecx, userStack);
            a.sysexit();
        });
        m.LoadCode(userReturn, a => { a.xor(ebx, ebx); a.mov(bx, cs); a.xor(eax, eax); a.mov(ax, ss); a.mov(ebp, esp); a.hlt(); });
        m.Cpu.State.SysenterCs = KernelCodeSelector;
        m.Cpu.State.SysenterEsp = kernelStack;
        m.Cpu.State.SysenterEip = entry;
        m.EnterUserModeFromKernel(userEflags: 0x202);
        m.LoadCode(UserCode, a => a.sysenter());

        m.Run();

        Assert.Equal(kernelStack, (uint)m.Cpu.State.Rsi);
        Assert.Equal(0u, (uint)m.Cpu.State.Rdi & (EflagsBits.IF | EflagsBits.VM));
        // SYSEXIT: CS = SYSENTER_CS + 16 | 3, SS = + 24 | 3, ESP = ECX; the HLT at ring 3 then raises #GP.
        Assert.Equal(UserCodeSelector, (uint)m.Cpu.State.Rbx);
        Assert.Equal(userStack, (uint)m.Cpu.State.Rbp);
        Assert.Equal(UserDataSelector, (uint)m.Cpu.State.Rax);
        Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
    }

    [Fact]
    public void Sysenter_WithNullSysenterCs_RaisesGeneralProtection()
    {
        using ProtectedModeMachine m = RunKernel(a => a.sysenter());

        Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
    }

    [Fact]
    public void Sysexit_FromRing3_RaisesGeneralProtection()
    {
        using var m = new ProtectedModeMachine();
        m.Cpu.State.SysenterCs = KernelCodeSelector;
        m.EnterUserModeFromKernel();
        m.LoadCode(UserCode, a => a.sysexit());

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
        Assert.Equal(UserCode, m.Stack(4));
    }

    /// <summary>
    /// A CR3 load keeps global translations when CR4.PGE is on (SDM vol. 3 §4.10.4.1): after the page table is
    /// changed behind the TLB's back and CR3 reloaded, a global page still reads the old frame, a non-global one
    /// the new; INVLPG and toggling CR4.PGE drop the global one too.
    /// </summary>
    [Theory]
    [InlineData(true, "none", 0x1111_1111u)]
    [InlineData(false, "none", 0x2222_2222u)]
    [InlineData(true, "invlpg", 0x2222_2222u)]
    [InlineData(true, "toggle-pge", 0x2222_2222u)]
    public void Cr3Reload_KeepsGlobalPagesOnly(bool global, string flush, uint expected)
    {
        using var m = new ProtectedModeMachine();
        const uint oldFrame = DataPage + 0x1000, newFrame = DataPage + 0x2000;
        m.WriteU32(oldFrame, 0x1111_1111);
        m.WriteU32(newFrame, 0x2222_2222);
        m.EnableIdentityPaging();
        m.Cpu.State.Cr4 |= ControlRegisters.Cr4Pge;
        m.SetPte(DataPage, oldFrame | PagePresent | PageWritable | PageUser | (global ? PageGlobal : 0));
        uint pteAddress = (uint)PageTable + (DataPage >> 12) * 4;
        m.LoadCode(KernelCode, a =>
        {
            a.mov(eax, __dword_ptr[DataPage]); // fills the TLB
            a.mov(__dword_ptr[pteAddress], newFrame | PagePresent | PageWritable | PageUser | (global ? PageGlobal : 0u));
            a.mov(ebx, cr3);
            a.mov(cr3, ebx);
            if (flush == "invlpg")
                a.invlpg(__dword_ptr[DataPage]);
            if (flush == "toggle-pge")
            {
                a.mov(ecx, cr4);
                a.and(ecx, ~0x80);
                a.mov(cr4, ecx);
                a.or(ecx, 0x80);
                a.mov(cr4, ecx);
            }
            a.mov(eax, __dword_ptr[DataPage]);
            a.hlt();
        });

        m.Run();

        Assert.Equal(expected, (uint)m.Cpu.State.Rax);
    }

    [Fact]
    public void GlobalBit_WithoutCr4Pge_IsIgnored()
    {
        using var m = new ProtectedModeMachine();
        const uint oldFrame = DataPage + 0x1000, newFrame = DataPage + 0x2000;
        m.WriteU32(oldFrame, 0x1111_1111);
        m.WriteU32(newFrame, 0x2222_2222);
        m.EnableIdentityPaging();
        m.SetPte(DataPage, oldFrame | PagePresent | PageWritable | PageGlobal);
        uint pteAddress = (uint)PageTable + (DataPage >> 12) * 4;
        m.LoadCode(KernelCode, a =>
        {
            a.mov(eax, __dword_ptr[DataPage]);
            a.mov(__dword_ptr[pteAddress], newFrame | PagePresent | PageWritable | PageGlobal);
            a.mov(ebx, cr3);
            a.mov(cr3, ebx);
            a.mov(eax, __dword_ptr[DataPage]);
            a.hlt();
        });

        m.Run();

        Assert.Equal(0x2222_2222u, (uint)m.Cpu.State.Rax);
    }

    [Theory]
    [InlineData(0, false, 0u, false)]  // ring 0, counter 0: reads (zero: nothing counts)
    [InlineData(0, false, 2u, true)]   // no counter 2 on a P6
    [InlineData(3, false, 0u, true)]   // ring 3 without CR4.PCE: refused
    [InlineData(3, true, 1u, false)]   // ring 3 with CR4.PCE: allowed
    public void Rdpmc_IsRefusedOutsideItsPermission(int ring, bool pce, uint counter, bool faults)
    {
        using var m = new ProtectedModeMachine();
        if (pce)
            m.Cpu.State.Cr4 |= ControlRegisters.Cr4Pce;
        Action<Iced.Intel.Assembler> code = a => { a.mov(ecx, counter); a.mov(eax, 0x5555); a.rdpmc(); a.mov(ebx, 0x600D); a.hlt(); };
        if (ring == 3)
        {
            m.EnterUserModeFromKernel();
            m.LoadCode(UserCode, code);
        }
        else
        {
            m.LoadCode(KernelCode, code);
        }

        m.Run();

        if (faults)
        {
            Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
        }
        else
        {
            Assert.Equal(0x600Du, (uint)m.Cpu.State.Rbx);
            Assert.Equal(0u, (uint)m.Cpu.State.Rax);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Wbinvd_IsPrivileged(bool fromRing3)
    {
        using var m = new ProtectedModeMachine();
        Action<Iced.Intel.Assembler> code = a => { a.wbinvd(); a.invd(); a.mov(ebx, 0x600D); a.hlt(); };
        if (fromRing3)
        {
            m.EnterUserModeFromKernel();
            m.LoadCode(UserCode, code);
        }
        else
        {
            m.LoadCode(KernelCode, code);
        }

        m.Run();

        Assert.Equal(fromRing3 ? 0u : 0x600Du, (uint)m.Cpu.State.Rbx);
        if (fromRing3)
            Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
    }

    private static string Ascii(params uint[] words) =>
        string.Concat(words.Select(w => System.Text.Encoding.ASCII.GetString(BitConverter.GetBytes(w))));
}
