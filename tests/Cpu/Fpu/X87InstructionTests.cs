using Iced.Intel;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Cpu.Fpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu.Fpu;

/// <summary>
/// x87 instructions run on the flat protected-mode test machine, checked against bit patterns from the SDM and
/// well-known constants, System.Double where double is exact, and the exception/#MF/#NM rules of the SDM.
/// </summary>
public sealed class X87InstructionTests
{
    /// <summary>Where tests put memory operands: inside the machine's data page.</summary>
    private const uint Operand = DataPage;
    private const uint SaveArea = DataPage + 0x100;
    /// <summary>Address of the first instruction after the FNINIT every test starts with.</summary>
    private const uint FirstInstruction = KernelCode + 2;

    /// <summary>Runs <paramref name="code"/> after an FNINIT (or from the power-on state when <paramref name="init"/> is false).</summary>
    private static ProtectedModeMachine Run(Action<Assembler> code, Action<ProtectedModeMachine>? arrange = null, bool init = true)
    {
        var m = new ProtectedModeMachine();
        arrange?.Invoke(m);
        m.LoadCode(KernelCode, a =>
        {
            if (init)
                a.fninit(); // 2 bytes: the first test instruction is at FirstInstruction
            code(a);
            a.hlt();
        });
        m.Run();
        return m;
    }

    private static Float80 St(ProtectedModeMachine m, int i) => m.Cpu.Fpu.St(i);

    private static void WriteU16(ProtectedModeMachine m, ulong at, ushort value) => BitConverter.TryWriteBytes(m.Bus.Ram.Slice((int)at, 2), value);

    private static ushort ReadU16(ProtectedModeMachine m, ulong at) => BitConverter.ToUInt16(m.Bus.Ram.Slice((int)at, 2));

    private static ulong ReadU64(ProtectedModeMachine m, ulong at) => BitConverter.ToUInt64(m.Bus.Ram.Slice((int)at, 8));

    // ---- constants ----

    [Theory]
    [InlineData(0x037F, 0xC90F_DAA2_2168_C235UL)] // nearest
    [InlineData(0x077F, 0xC90F_DAA2_2168_C234UL)] // down
    [InlineData(0x0B7F, 0xC90F_DAA2_2168_C235UL)] // up
    [InlineData(0x0F7F, 0xC90F_DAA2_2168_C234UL)] // toward zero
    public void Fldpi_IsRoundedByTheRoundingControl(ushort controlWord, ulong significand)
    {
        ProtectedModeMachine m = Run(a => { a.fldcw(__word_ptr[Operand]); a.fldpi(); }, m => WriteU16(m, Operand, controlWord));
        Assert.Equal(new Float80(0x4000, significand), St(m, 0));
    }

    [Fact]
    public void Constants_MatchTheKnownRoundToNearestPatterns()
    {
        ProtectedModeMachine m = Run(a => { a.fld1(); a.fldz(); a.fldl2e(); a.fldl2t(); a.fldlg2(); a.fldln2(); });
        Assert.Equal(new Float80(0x3FFE, 0xB172_17F7_D1CF_79AC), St(m, 0)); // ln 2
        Assert.Equal(new Float80(0x3FFD, 0x9A20_9A84_FBCF_F799), St(m, 1)); // log10 2
        Assert.Equal(new Float80(0x4000, 0xD49A_784B_CD1B_8AFE), St(m, 2)); // log2 10
        Assert.Equal(new Float80(0x3FFF, 0xB8AA_3B29_5C17_F0BC), St(m, 3)); // log2 e
        Assert.Equal(Float80.Zero, St(m, 4));
        Assert.Equal(Float80.One, St(m, 5));
        Assert.Equal(2, m.Cpu.Fpu.Top);
    }

    // ---- arithmetic ----

    [Fact]
    public void OneThird_IsExactToTheLastBit()
    {
        ProtectedModeMachine m = Run(a => { a.fld1(); a.fild(__dword_ptr[Operand]); a.fdivp(st1, st0); }, m => m.WriteU32(Operand, 3));
        Assert.Equal(new Float80(0x3FFD, 0xAAAA_AAAA_AAAA_AAAB), St(m, 0));
        Assert.Equal(X87State.StatusC1 | 0x20, m.Cpu.Fpu.Status & (X87State.StatusC1 | 0x3F) ); // PE, rounded up
    }

    [Fact]
    public void PrecisionControl24_RoundsTheSignificandTo24Bits()
    {
        ProtectedModeMachine m = Run(a => { a.fldcw(__word_ptr[Operand + 8]); a.fld1(); a.fild(__dword_ptr[Operand]); a.fdivp(st1, st0); },
            m => { m.WriteU32(Operand, 3); WriteU16(m, Operand + 8, 0x007F); });
        Assert.Equal(new Float80(0x3FFD, 0xAAAA_AB00_0000_0000), St(m, 0));
    }

    [Fact]
    public void Fsqrt_OfTwo_IsTheKnownPattern()
    {
        ProtectedModeMachine m = Run(a => { a.fild(__dword_ptr[Operand]); a.fsqrt(); }, m => m.WriteU32(Operand, 2));
        Assert.Equal(new Float80(0x3FFF, 0xB504_F333_F9DE_6484), St(m, 0));
    }

    [Theory]
    [InlineData(1.5, 2.25)]
    [InlineData(-3.0, 0.125)]
    [InlineData(1e10, 3.0)]
    public void ArithmeticForms_MatchDoubleWhereDoubleIsExact(double x, double y)
    {
        ProtectedModeMachine m = Run(a =>
        {
            a.fld(__qword_ptr[Operand]);
            a.fadd(__qword_ptr[Operand + 8]);            // x + y
            a.fld(__qword_ptr[Operand]);
            a.fmul(__qword_ptr[Operand + 8]);            // x * y
            a.fld(__qword_ptr[Operand]);
            a.fsubr(__qword_ptr[Operand + 8]);           // y - x
            a.fstp(__qword_ptr[Operand + 0x20]);
            a.fstp(__qword_ptr[Operand + 0x28]);
            a.fstp(__qword_ptr[Operand + 0x30]);
        }, m => { m.WriteU64(Operand, (ulong)BitConverter.DoubleToInt64Bits(x)); m.WriteU64(Operand + 8, (ulong)BitConverter.DoubleToInt64Bits(y)); });
        Assert.Equal(y - x, BitConverter.Int64BitsToDouble((long)ReadU64(m, Operand + 0x20)));
        Assert.Equal(x * y, BitConverter.Int64BitsToDouble((long)ReadU64(m, Operand + 0x28)));
        Assert.Equal(x + y, BitConverter.Int64BitsToDouble((long)ReadU64(m, Operand + 0x30)));
    }

    // ---- conversions ----

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(123_456_789_012_345L)]
    [InlineData(long.MinValue)]
    public void FildFistp_RoundTripsInt64_AndMatchesDouble(long value)
    {
        ProtectedModeMachine m = Run(a =>
        {
            a.fild(__qword_ptr[Operand]);
            a.fld(st0);
            a.fstp(__qword_ptr[Operand + 16]);
            a.fistp(__qword_ptr[Operand + 8]);
        }, m => m.WriteU64(Operand, (ulong)value));
        Assert.Equal((ulong)value, ReadU64(m, Operand + 8));
        if (Math.Abs((double)value) < 9007199254740992.0 || value == long.MinValue)
            Assert.Equal((double)value, BitConverter.Int64BitsToDouble((long)ReadU64(m, Operand + 16)));
    }

    [Fact]
    public void FstSingle_OfDoubleTenth_MatchesTheFloatConversion()
    {
        ProtectedModeMachine m = Run(a => { a.fld(__qword_ptr[Operand]); a.fstp(__dword_ptr[Operand + 8]); },
            m => m.WriteU64(Operand, (ulong)BitConverter.DoubleToInt64Bits(0.1)));
        Assert.Equal(BitConverter.SingleToUInt32Bits(0.1f), m.ReadU32(Operand + 8));
    }

    [Fact]
    public void Fist_RoundsToNearestEven()
    {
        ProtectedModeMachine m = Run(a => { a.fld(__qword_ptr[Operand]); a.fistp(__word_ptr[Operand + 8]); },
            m => m.WriteU64(Operand, (ulong)BitConverter.DoubleToInt64Bits(-2.5)));
        Assert.Equal(unchecked((ushort)-2), ReadU16(m, Operand + 8));
    }

    [Fact]
    public void FbldFbstp_RoundTripPackedBcd()
    {
        ProtectedModeMachine m = Run(a => { a.fbld(__tword_ptr[Operand]); a.fld(st0); a.fbstp(__tword_ptr[Operand + 16]); },
            m => { m.WriteU64(Operand, 0x0000_0001_2345_6789); WriteU16(m, Operand + 8, 0x8000); });
        Assert.Equal(new SoftFloat80().FromInt64(-123_456_789), St(m, 0));
        Assert.Equal(0x0000_0001_2345_6789UL, ReadU64(m, Operand + 16));
        Assert.Equal(0x8000, ReadU16(m, Operand + 24));
    }

    // ---- compares ----

    [Fact]
    public void Fcom_SetsC0WhenLess_ReadBackWithFnstswAx()
    {
        ProtectedModeMachine m = Run(a => { a.fld1(); a.fldz(); a.fcompp(); a.fnstsw(ax); });
        Assert.Equal((uint)X87State.StatusC0, (uint)m.Cpu.State.Rax & (X87State.ConditionMask | 0x3800u));
    }

    [Fact]
    public void Fcomi_SetsCarryWhenLess_AndFucomiOfNaNSetsAllThree()
    {
        ProtectedModeMachine m = Run(a => { a.fld1(); a.fldz(); a.fcomi(st0, st1); a.setb(bl); a.fdiv(st0, st0); a.fucomi(st0, st1); });
        Assert.Equal(1UL, m.Cpu.State.Rbx & 0xFF);
        const uint zpc = EflagsBits.ZF | EflagsBits.PF | EflagsBits.CF;
        Assert.Equal(zpc, m.Cpu.State.Eflags & zpc);
    }

    [Fact]
    public void Fcmovb_MovesWhenCarrySet()
    {
        ProtectedModeMachine m = Run(a => { a.fld1(); a.fldz(); a.stc(); a.fcmovb(st0, st1); });
        Assert.Equal(Float80.One, St(m, 0));
    }

    [Fact]
    public void Fxam_ClassifiesEmptyZeroAndNegativeInfinity()
    {
        ProtectedModeMachine m = Run(a =>
        {
            a.fxam(); a.fnstsw(ax); a.mov(ebx, eax);
            a.fldz(); a.fxam(); a.fnstsw(ax); a.mov(ecx, eax);
            a.fld(__dword_ptr[Operand]); a.fxam(); a.fnstsw(ax);
        }, m => m.WriteU32(Operand, 0xFF80_0000)); // -inf
        Assert.Equal((uint)(X87State.StatusC3 | X87State.StatusC0), (uint)m.Cpu.State.Rbx & X87State.ConditionMask & ~(uint)X87State.StatusC1);
        Assert.Equal((uint)X87State.StatusC3, (uint)m.Cpu.State.Rcx & X87State.ConditionMask);
        Assert.Equal((uint)(X87State.StatusC2 | X87State.StatusC1 | X87State.StatusC0), (uint)m.Cpu.State.Rax & X87State.ConditionMask);
    }

    // ---- other operations ----

    [Fact]
    public void FscaleFxtractFrndint_GiveExactResults()
    {
        ProtectedModeMachine m = Run(a =>
        {
            a.fild(__dword_ptr[Operand]);      // 3
            a.fld1();                          // 1, 3
            a.fscale();                        // 1 * 2^3 = 8 (ST1 = 3)
            a.fxtract();                       // ST0 = 1.0 significand, ST1 = 3 exponent
            a.fld(__qword_ptr[Operand + 8]);   // 2.5
            a.frndint();                       // 2
        }, m => { m.WriteU32(Operand, 3); m.WriteU64(Operand + 8, (ulong)BitConverter.DoubleToInt64Bits(2.5)); });
        var sf = new SoftFloat80();
        Assert.Equal(sf.FromInt64(2), St(m, 0));
        Assert.Equal(Float80.One, St(m, 1));
        Assert.Equal(sf.FromInt64(3), St(m, 2));
    }

    [Fact]
    public void Fprem_ReducesAndReportsQuotientBits()
    {
        ProtectedModeMachine m = Run(a => { a.fild(__dword_ptr[Operand]); a.fild(__dword_ptr[Operand + 4]); a.fprem(); a.fnstsw(ax); },
            m => { m.WriteU32(Operand, 3); m.WriteU32(Operand + 4, 17); });
        Assert.Equal(new SoftFloat80().FromInt64(2), St(m, 0)); // 17 = 5*3 + 2, q = 101b
        Assert.Equal((uint)(X87State.StatusC0 | X87State.StatusC1), (uint)m.Cpu.State.Rax & X87State.ConditionMask);
    }

    [Fact]
    public void FabsFchsFxch_ManipulateSignsAndOrder()
    {
        ProtectedModeMachine m = Run(a => { a.fld1(); a.fchs(); a.fldz(); a.fxch(st0, st1); a.fabs(); });
        Assert.Equal(Float80.One, St(m, 0));
        Assert.Equal(Float80.Zero, St(m, 1));
    }

    [Fact]
    public void Transcendentals_AreCloseToSystemMath()
    {
        ProtectedModeMachine m = Run(a =>
        {
            a.fld(__qword_ptr[Operand]);
            a.fsin();
            a.fstp(__qword_ptr[Operand + 8]);
            a.fld1();
            a.fld1();
            a.fpatan();
            a.fstp(__qword_ptr[Operand + 16]);
        }, m => m.WriteU64(Operand, (ulong)BitConverter.DoubleToInt64Bits(0.5)));
        Assert.Equal(Math.Sin(0.5), BitConverter.Int64BitsToDouble((long)ReadU64(m, Operand + 8)), 15);
        Assert.Equal(Math.PI / 4, BitConverter.Int64BitsToDouble((long)ReadU64(m, Operand + 16)), 15);
    }

    [Fact]
    public void ReversedRegisterForms_SubtractAndDivideTheOtherWay()
    {
        // ST1 = 8, ST0 = 2: fsubr st1, st0 → ST1 = 2 − 8; fdivrp st1, st0 → ST1 = 2 / (−6), pop
        ProtectedModeMachine m = Run(a =>
        {
            a.fild(__dword_ptr[Operand]);
            a.fild(__dword_ptr[Operand + 4]);
            a.fsubr(st1, st0);
            a.fdivrp(st1, st0);
        }, m => { m.WriteU32(Operand, 8); m.WriteU32(Operand + 4, 2); });
        var sf = new SoftFloat80();
        Assert.Equal(sf.Divide(sf.FromInt64(2), sf.FromInt64(-6)), St(m, 0));
        Assert.Equal(7, m.Cpu.Fpu.Top);
    }

    [Fact]
    public void FcomOfQuietNaN_IsInvalid_ButFucomIsNot()
    {
        ProtectedModeMachine fcom = Run(a => { a.fld(__dword_ptr[Operand]); a.fld1(); a.fcom(st0, st1); }, m => m.WriteU32(Operand, 0x7FC0_0000));
        Assert.Equal(SoftFloat80.InvalidFlag, fcom.Cpu.Fpu.Status & 0x3F);
        ProtectedModeMachine fucom = Run(a => { a.fld(__dword_ptr[Operand]); a.fld1(); a.fucom(st0, st1); }, m => m.WriteU32(Operand, 0x7FC0_0000));
        Assert.Equal(0, fucom.Cpu.Fpu.Status & 0x3F);
        Assert.Equal(X87State.StatusC0 | X87State.StatusC2 | X87State.StatusC3, fucom.Cpu.Fpu.Status & X87State.ConditionMask);
    }

    [Fact]
    public void FstpToRegister_FfreeFincstpFdecstp_MoveTheStack()
    {
        ProtectedModeMachine m = Run(a =>
        {
            a.fld1();           // TOP 7
            a.fldz();           // TOP 6
            a.fstp(st1);        // ST1 = 0 → after pop ST0 = 0, TOP 7
            a.fdecstp();        // TOP 6
            a.ffree(st1);       // physical 7 empty
            a.fincstp();        // TOP 7
        });
        Assert.Equal(7, m.Cpu.Fpu.Top);
        Assert.True(m.Cpu.Fpu.IsEmpty(0));
        Assert.Equal(Float80.Zero, St(m, 0));
    }

    [Fact]
    public void FptanAndFsincos_PushTheirSecondResult()
    {
        ProtectedModeMachine m = Run(a => { a.fldz(); a.fptan(); a.fldz(); a.fsincos(); });
        Assert.Equal(Float80.One, St(m, 0));     // cos 0
        Assert.Equal(Float80.Zero, St(m, 1));    // sin 0
        Assert.Equal(Float80.One, St(m, 2));     // FPTAN's 1.0
        Assert.Equal(Float80.Zero, St(m, 3));    // tan 0
    }

    [Fact]
    public void Fyl2xAndF2xm1_AreCloseToSystemMath()
    {
        ProtectedModeMachine m = Run(a =>
        {
            a.fld(__qword_ptr[Operand]);       // y = 3
            a.fld(__qword_ptr[Operand + 8]);   // x = 10
            a.fyl2x();                          // 3 log2 10
            a.fstp(__qword_ptr[Operand + 16]);
            a.fld(__qword_ptr[Operand + 24]);  // 0.5
            a.f2xm1();
            a.fstp(__qword_ptr[Operand + 32]);
        }, m =>
        {
            m.WriteU64(Operand, (ulong)BitConverter.DoubleToInt64Bits(3.0));
            m.WriteU64(Operand + 8, (ulong)BitConverter.DoubleToInt64Bits(10.0));
            m.WriteU64(Operand + 24, (ulong)BitConverter.DoubleToInt64Bits(0.5));
        });
        Assert.Equal(3 * Math.Log2(10), BitConverter.Int64BitsToDouble((long)ReadU64(m, Operand + 16)), 14);
        Assert.Equal(Math.Sqrt(2) - 1, BitConverter.Int64BitsToDouble((long)ReadU64(m, Operand + 32)), 15);
    }

    [Fact]
    public void Fsin_OfHugeArgument_SetsC2_AndLeavesTheOperand()
    {
        ProtectedModeMachine m = Run(a => { a.fld(__qword_ptr[Operand]); a.fsin(); },
            m => m.WriteU64(Operand, (ulong)BitConverter.DoubleToInt64Bits(1e300)));
        Assert.True((m.Cpu.Fpu.Status & X87State.StatusC2) != 0);
        Assert.Equal(new SoftFloat80().FromBinary((ulong)BitConverter.DoubleToInt64Bits(1e300), 11, 52), St(m, 0));
    }

    [Fact]
    public void Fnstenv16_WithOperandSizePrefix_WritesFourteenBytes()
    {
        ProtectedModeMachine m = Run(a => { a.fld1(); a.db(0x66); a.fnstenv(__[SaveArea]); a.mov(ebx, __dword_ptr[SaveArea + 12]); },
            m => m.WriteU32(SaveArea + 12, 0xDEAD_BEEF));
        Assert.Equal(0x037F, ReadU16(m, SaveArea));
        Assert.Equal(0x3800, ReadU16(m, SaveArea + 2));
        Assert.Equal(0x3FFF, ReadU16(m, SaveArea + 4));
        Assert.Equal(FirstInstruction & 0xFFFF, ReadU16(m, SaveArea + 6));
        Assert.Equal(KernelCodeSelector, ReadU16(m, SaveArea + 8));
        Assert.Equal(0xDEADu, (uint)m.Cpu.State.Rbx >> 16); // bytes 14.. untouched
    }

    // ---- stack faults ----

    [Fact]
    public void NinthPush_IsStackOverflow_WithC1Set_AndPushesTheIndefinite()
    {
        ProtectedModeMachine m = Run(a => { for (int i = 0; i < 9; i++) a.fld1(); });
        ushort sw = m.Cpu.Fpu.Status;
        Assert.Equal(X87State.StatusInvalid | X87State.StatusStackFault | X87State.StatusC1,
                     sw & (X87State.StatusInvalid | X87State.StatusStackFault | X87State.StatusC1));
        Assert.Equal(Float80.Indefinite, St(m, 0));
    }

    [Fact]
    public void ArithmeticOnAnEmptyRegister_IsStackUnderflow_WithC1Clear()
    {
        ProtectedModeMachine m = Run(a => { a.fld1(); a.fadd(st0, st3); });
        ushort sw = m.Cpu.Fpu.Status;
        Assert.Equal(X87State.StatusInvalid | X87State.StatusStackFault, sw & (X87State.StatusInvalid | X87State.StatusStackFault | X87State.StatusC1));
        Assert.Equal(Float80.Indefinite, St(m, 0));
    }

    // ---- exceptions, #MF, #NM ----

    [Fact]
    public void UnmaskedZeroDivide_LeavesTheDestination_AndRaisesMfAtTheNextWait()
    {
        ProtectedModeMachine m = Run(a =>
        {
            a.fldcw(__word_ptr[Operand]);
            a.fld1();
            a.fldz();
            a.fdivr(st0, st1); // 1 / 0
            a.wait();
        }, m => { WriteU16(m, Operand, 0x037B); m.Cpu.State.Cr0 |= ControlRegisters.Cr0Ne; });
        Assert.Equal(AfterHandler(ExceptionVector.FloatingPoint), m.Eip);
        Assert.Equal(Float80.Zero, St(m, 0));
        Assert.True((m.Cpu.Fpu.Status & X87State.StatusErrorSummary) != 0);
        Assert.Equal(0x04, m.Cpu.Fpu.Status & 0x3F);
        Assert.Equal(0x9B, m.Bus.Ram[(int)m.Stack(0)]); // the saved EIP points at the FWAIT
    }

    [Fact]
    public void MaskedZeroDivide_StoresInfinity_WithoutMf()
    {
        ProtectedModeMachine m = Run(a => { a.fld1(); a.fldz(); a.fdivr(st0, st1); a.wait(); a.mov(ebx, 7); },
            m => m.Cpu.State.Cr0 |= ControlRegisters.Cr0Ne);
        Assert.Equal(7UL, m.Cpu.State.Rbx);
        Assert.Equal(Float80.Infinity(false), St(m, 0));
    }

    [Fact]
    public void UnmaskedException_WithCr0NeClear_IsIgnored()
    {
        ProtectedModeMachine m = Run(a => { a.fldcw(__word_ptr[Operand]); a.fld1(); a.fldz(); a.fdivr(st0, st1); a.wait(); a.fld1(); a.mov(ebx, 7); },
            m => WriteU16(m, Operand, 0x037B));
        Assert.Equal(7UL, m.Cpu.State.Rbx);
        Assert.Equal(Float80.One, St(m, 0));
    }

    [Fact]
    public void Fnclex_ClearsThePendingError_SoTheNextWaitPasses()
    {
        ProtectedModeMachine m = Run(a => { a.fldcw(__word_ptr[Operand]); a.fld1(); a.fldz(); a.fdivr(st0, st1); a.fnclex(); a.wait(); a.mov(ebx, 7); },
            m => { WriteU16(m, Operand, 0x037B); m.Cpu.State.Cr0 |= ControlRegisters.Cr0Ne; });
        Assert.Equal(7UL, m.Cpu.State.Rbx);
    }

    [Fact]
    public void PowerOnState_IsControl0040_AndEightValidZeros()
    {
        var m = new ProtectedModeMachine();
        Assert.Equal(0x0040, m.Cpu.Fpu.Control);
        Assert.Equal(0x5555, m.Cpu.Fpu.TagWord);
        Assert.Equal(0, m.Cpu.Fpu.Status);
    }

    [Fact]
    public void DenormalDoubleLoad_RaisesDe_AndUnmaskedDeDoesNotPush()
    {
        ProtectedModeMachine masked = Run(a => a.fld(__qword_ptr[Operand]), m => m.WriteU64(Operand, 1));
        Assert.Equal(SoftFloat80.DenormalFlag, masked.Cpu.Fpu.Status & 0x3F);
        Assert.Equal(new Float80(0x3FFF - 1074, Float80.IntegerBit), St(masked, 0)); // 2^-1074, normalized in extended
        ProtectedModeMachine unmasked = Run(a => { a.fldcw(__word_ptr[Operand + 8]); a.fld(__qword_ptr[Operand]); },
            m => { m.WriteU64(Operand, 1); WriteU16(m, Operand + 8, 0x037D); });
        Assert.True(unmasked.Cpu.Fpu.IsEmpty(0));
        Assert.True((unmasked.Cpu.Fpu.Status & X87State.StatusErrorSummary) != 0);
    }

    [Fact]
    public void SignalingNaNDoubleLoad_IsQuieted_WithInvalid()
    {
        ProtectedModeMachine m = Run(a => a.fld(__qword_ptr[Operand]), m => m.WriteU64(Operand, 0x7FF0_0000_0000_0001));
        Assert.Equal(new Float80(0x7FFF, 0xC000_0000_0000_0800), St(m, 0));
        Assert.Equal(SoftFloat80.InvalidFlag, m.Cpu.Fpu.Status & 0x3F);
    }

    [Fact]
    public void StoreOfHugeValueToSingle_OverflowsToInfinity_WhenMasked()
    {
        ProtectedModeMachine m = Run(a => { a.fld(__qword_ptr[Operand]); a.fstp(__dword_ptr[Operand + 8]); },
            m => m.WriteU64(Operand, (ulong)BitConverter.DoubleToInt64Bits(1e300)));
        Assert.Equal(0x7F80_0000u, m.ReadU32(Operand + 8));
        Assert.Equal(SoftFloat80.OverflowFlag | SoftFloat80.PrecisionFlag, m.Cpu.Fpu.Status & 0x3F);
    }

    [Theory]
    [InlineData(ControlRegisters.Cr0Em)]
    [InlineData(ControlRegisters.Cr0Ts)]
    public void EscapeWithEmOrTs_RaisesNm(ulong cr0Bit)
    {
        ProtectedModeMachine m = Run(a => a.fld1(), m => m.Cpu.State.Cr0 |= cr0Bit, init: false);
        Assert.Equal(AfterHandler(ExceptionVector.DeviceNotAvailable), m.Eip);
        Assert.Equal(0, m.Cpu.Fpu.Top);
    }

    [Fact]
    public void Wait_WithTsOnly_Runs_ButWithMpAndTs_RaisesNm()
    {
        ProtectedModeMachine tsOnly = Run(a => { a.wait(); a.mov(ebx, 7); }, m => m.Cpu.State.Cr0 |= ControlRegisters.Cr0Ts, init: false);
        Assert.Equal(7UL, tsOnly.Cpu.State.Rbx);
        ProtectedModeMachine both = Run(a => { a.wait(); a.mov(ebx, 7); }, m => m.Cpu.State.Cr0 |= ControlRegisters.Cr0Ts | ControlRegisters.Cr0Mp, init: false);
        Assert.Equal(AfterHandler(ExceptionVector.DeviceNotAvailable), both.Eip);
    }

    [Fact]
    public void Fxsave_WithEm_RaisesNm()
    {
        ProtectedModeMachine m = Run(a => a.fxsave(__[SaveArea]), m => m.Cpu.State.Cr0 |= ControlRegisters.Cr0Em, init: false);
        Assert.Equal(AfterHandler(ExceptionVector.DeviceNotAvailable), m.Eip);
    }

    // ---- save/restore formats and pointers ----

    [Fact]
    public void Fnsave_WritesThe108ByteLayout_ReinitializesTheFpu_AndFrstorRestores()
    {
        ProtectedModeMachine m = Run(a => { a.fld1(); a.fnsave(__[SaveArea]); a.mov(ebx, __dword_ptr[SaveArea + 8]); a.frstor(__[SaveArea]); });
        Assert.Equal(0xFFFF_037Fu, m.ReadU32(SaveArea));
        Assert.Equal(0x3800u, m.ReadU32(SaveArea + 4) & 0xFFFF);  // TOP = 7
        Assert.Equal(0xFFFF_3FFFu, (uint)m.Cpu.State.Rbx);       // physical 7 valid, others empty
        Assert.Equal(Float80.IntegerBit, ReadU64(m, SaveArea + 28));
        Assert.Equal(0x3FFF, ReadU16(m, SaveArea + 36));
        Assert.Equal(Float80.One, St(m, 0));
        Assert.Equal(7, m.Cpu.Fpu.Top);
        Assert.Equal(0x7F, m.Cpu.Fpu.EmptyMask);
    }

    [Fact]
    public void Fnstenv_RecordsTheLastInstructionAndDataPointers()
    {
        ProtectedModeMachine m = Run(a => { a.fld(__dword_ptr[Operand]); a.fnstenv(__[SaveArea]); }, m => m.WriteU32(Operand, 0x3F80_0000));
        Assert.Equal(FirstInstruction, m.ReadU32(SaveArea + 12));                         // FIP
        Assert.Equal((uint)KernelCodeSelector | (0x105u << 16), m.ReadU32(SaveArea + 16)); // FCS, FOP = D9 /0 modrm 05
        Assert.Equal(Operand, m.ReadU32(SaveArea + 20));                            // FDP
        Assert.Equal(0xFFFF_0000u | KernelDataSelector, m.ReadU32(SaveArea + 24));  // FDS
        Assert.Equal(0x037F | 0x3F, m.Cpu.Fpu.Control);                               // FNSTENV masks all exceptions
    }

    [Fact]
    public void Fxsave_WritesTheLegacyLayoutWithAbridgedTag()
    {
        ProtectedModeMachine m = Run(a => { a.fld1(); a.fxsave(__[SaveArea]); });
        Assert.Equal(0x037F, ReadU16(m, SaveArea));
        Assert.Equal(0x3800, ReadU16(m, SaveArea + 2));
        Assert.Equal(0x80, m.Bus.Ram[(int)SaveArea + 4]);
        Assert.Equal(0x1E8, ReadU16(m, SaveArea + 6));      // FOP of fld1 (D9 E8)
        Assert.Equal(FirstInstruction, m.ReadU32(SaveArea + 8));   // FIP
        Assert.Equal(0x1F80u, m.ReadU32(SaveArea + 24));     // MXCSR default
        Assert.Equal(Float80.IntegerBit, ReadU64(m, SaveArea + 32));
        Assert.Equal(0x3FFF, ReadU16(m, SaveArea + 40));
    }

    [Fact]
    public void FxsaveFxrstor_RoundTrip()
    {
        ProtectedModeMachine m = Run(a => { a.fldpi(); a.fld1(); a.fxsave(__[SaveArea]); a.fninit(); a.fxrstor(__[SaveArea]); });
        Assert.Equal(Float80.One, St(m, 0));
        Assert.Equal(new Float80(0x4000, 0xC90F_DAA2_2168_C235), St(m, 1));
        Assert.Equal(0x3F, m.Cpu.Fpu.EmptyMask);
    }

    [Fact]
    public void Fxsave_Misaligned_RaisesGp()
    {
        ProtectedModeMachine m = Run(a => a.fxsave(__[SaveArea + 8]));
        Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
    }

    [Fact]
    public void Fxrstor_WithReservedMxcsrBits_RaisesGp_AndLoadsNothing()
    {
        ProtectedModeMachine m = Run(a => { a.fxsave(__[SaveArea]); a.mov(__dword_ptr[SaveArea + 24], 0x0001_0000); a.fld1(); a.fxrstor(__[SaveArea]); });
        Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
        Assert.Equal(Float80.One, St(m, 0));
    }

    [Fact]
    public void Fxsave_LeavesTheXmmAreaUntouched()
    {
        ProtectedModeMachine m = Run(a => a.fxsave(__[SaveArea]), m => m.WriteU32(SaveArea + 160, 0xA5A5_A5A5));
        Assert.Equal(0xA5A5_A5A5u, m.ReadU32(SaveArea + 160));
    }

    [Fact]
    public void Environment16BitProtectedLayout_IsFourteenBytes()
    {
        var s = new X87State();
        s.Init();
        s.Fip = 0x1234;
        s.Fcs = 0x08;
        s.Fdp = 0x5678;
        s.Fds = 0x10;
        byte[] image = new byte[14];
        X87SaveFormats.WriteEnvironment(s, image, operand32: false, realMode: false);
        Assert.Equal(new byte[] { 0x7F, 0x03, 0, 0, 0xFF, 0xFF, 0x34, 0x12, 0x08, 0, 0x78, 0x56, 0x10, 0 }, image);
    }

    [Fact]
    public void Environment32BitRealModeLayout_SplitsTheLinearPointers()
    {
        var s = new X87State();
        s.Init();
        s.Fip = 0x0010;
        s.Fcs = 0x1234; // linear 0x12350
        s.Fop = 0x1E8;
        byte[] image = new byte[28];
        X87SaveFormats.WriteEnvironment(s, image, operand32: true, realMode: true);
        Assert.Equal(0xFFFF_2350u, BitConverter.ToUInt32(image, 12));
        Assert.Equal((0x1u << 12) | 0x1E8u, BitConverter.ToUInt32(image, 16));
        var back = new X87State();
        X87SaveFormats.ReadEnvironment(back, image, operand32: true, realMode: true);
        Assert.Equal(0x12350u, back.Fip);
        Assert.Equal(0x1E8, back.Fop);
    }
}
