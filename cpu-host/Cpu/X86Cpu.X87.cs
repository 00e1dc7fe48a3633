using Iced.Intel;
using SplitEmu.CpuHost.Cpu.Fpu;

namespace SplitEmu.CpuHost.Cpu;

// The x87 FPU: escape dispatch, operand fetch/store, stack faults, exceptions and #MF. The arithmetic is in
// Fpu/SoftFloat80.cs, the register file in Fpu/X87State.cs, the memory images in Fpu/X87SaveFormats.cs and
// the transcendental instructions in X86Cpu.X87Transcendental.cs. See docs/fpu.md.
public sealed partial class X86Cpu
{
    /// <summary>Per Iced Code: true for the x87 escape opcodes D8..DF (and their WAIT-prefixed merged forms).</summary>
    private static readonly bool[] s_isX87Escape = BuildX87EscapeTable();

    private readonly X87State _fpu = new();

    /// <summary>Scratch for FNSAVE/FRSTOR/FXSAVE images (not reentrant; one instruction at a time).</summary>
    private readonly byte[] _fpuImage = new byte[X87SaveFormats.FxsaveSize];

    /// <summary>The x87 register file, control/status/tag words and pointers.</summary>
    public X87State Fpu => _fpu;

    private const int FpuIE = SoftFloat80.InvalidFlag, FpuDE = SoftFloat80.DenormalFlag, FpuZE = SoftFloat80.ZeroDivideFlag;
    private const int FpuOE = SoftFloat80.OverflowFlag, FpuUE = SoftFloat80.UnderflowFlag;

    private static bool[] BuildX87EscapeTable()
    {
        var table = new bool[Enum.GetValues<Code>().Length];
        foreach (Code c in Enum.GetValues<Code>())
        {
            OpCodeInfo info = c.ToOpCode();
            // Register forms such as D9 E8 (FLD1) carry both bytes in OpCode.
            uint first = info.OpCodeLength == 2 ? info.OpCode >> 8 : info.OpCode;
            bool escape = info.Encoding == EncodingKind.Legacy && info.Table == OpCodeTableKind.Normal && first is >= 0xD8 and <= 0xDF;
            bool mergedWait = c.Mnemonic() is Mnemonic.Fstcw or Mnemonic.Fstsw or Mnemonic.Fclex or Mnemonic.Finit or Mnemonic.Fstenv
                or Mnemonic.Fsave or Mnemonic.Feni or Mnemonic.Fdisi or Mnemonic.Fsetpm;
            table[(int)c] = escape || (mergedWait && info.Encoding == EncodingKind.Legacy);
        }
        return table;
    }

    /// <summary>WAIT/FWAIT: #NM when CR0.MP and CR0.TS are both set, then any pending unmasked x87 exception.</summary>
    private void ExecuteWait()
    {
        const ulong mpTs = ControlRegisters.Cr0Mp | ControlRegisters.Cr0Ts;
        if ((_state.Cr0 & mpTs) == mpTs)
        {
            RaiseFault(ExceptionVector.DeviceNotAvailable);
            return;
        }
        CheckPendingFpuError();
    }

    /// <summary>
    /// #MF for a pending unmasked exception when CR0.NE = 1. With CR0.NE = 0 the error would be signalled on the
    /// FERR# pin; no interrupt controller input is wired to it, so the CPU behaves as if IGNNE# were asserted.
    /// </summary>
    private bool CheckPendingFpuError()
    {
        if (_fpu.ErrorPending && (_state.Cr0 & ControlRegisters.Cr0Ne) != 0)
        {
            RaiseFault(ExceptionVector.FloatingPoint);
            return false;
        }
        return true;
    }

    private void ExecuteX87Escape(ref DecodedInstruction d)
    {
        if ((_state.Cr0 & (ControlRegisters.Cr0Em | ControlRegisters.Cr0Ts)) != 0)
        {
            RaiseFault(ExceptionVector.DeviceNotAvailable);
            return;
        }
        Mnemonic m = d.Instruction.Mnemonic;
        bool nonWaiting = m is Mnemonic.Fninit or Mnemonic.Fnclex or Mnemonic.Fnstcw or Mnemonic.Fnstsw or Mnemonic.Fnstenv
            or Mnemonic.Fnsave or Mnemonic.Fneni or Mnemonic.Fndisi or Mnemonic.Fnsetpm;
        if (!nonWaiting && !CheckPendingFpuError())
            return;
        SoftFloat80 a = _fpu.Arithmetic;
        a.Flags = 0;
        bool control = true;
        switch (m)
        {
            // ---- control ----
            case Mnemonic.Fninit: case Mnemonic.Finit: _fpu.Init(); break;
            case Mnemonic.Fnclex: case Mnemonic.Fclex: _fpu.ClearExceptions(); break;
            case Mnemonic.Fldcw:
            {
                ulong cw = ReadFpuMemory(ref d, 2);
                if (!Faulted)
                    _fpu.SetControl((ushort)cw);
                break;
            }
            case Mnemonic.Fnstcw: case Mnemonic.Fstcw: WriteFpuMemory(ref d, 2, _fpu.Control); break;
            case Mnemonic.Fnstsw: case Mnemonic.Fstsw:
                if (d.Instruction.Op0Kind == OpKind.Register)
                    WriteGpr(Gpr.Rax, 2, _fpu.Status);
                else
                    WriteFpuMemory(ref d, 2, _fpu.Status);
                break;
            case Mnemonic.Fnstenv: case Mnemonic.Fstenv: ExecuteFpuStoreEnvironment(ref d, withRegisters: false); break;
            case Mnemonic.Fnsave: case Mnemonic.Fsave: ExecuteFpuStoreEnvironment(ref d, withRegisters: true); break;
            case Mnemonic.Fldenv: ExecuteFpuLoadEnvironment(ref d, withRegisters: false); break;
            case Mnemonic.Frstor: ExecuteFpuLoadEnvironment(ref d, withRegisters: true); break;
            case Mnemonic.Fneni: case Mnemonic.Feni: case Mnemonic.Fndisi: case Mnemonic.Fdisi:
            case Mnemonic.Fnsetpm: case Mnemonic.Fsetpm:
                break; // 8087/80287 controls: no-ops on a 387 and later

            default:
                control = false;
                ExecuteX87Operation(ref d, m);
                break;
        }
        if (!control && !Faulted)
            RecordFpuPointers(ref d);
    }

    private void ExecuteX87Operation(ref DecodedInstruction d, Mnemonic m)
    {
        switch (m)
        {
            case Mnemonic.Fnop: break;
            case Mnemonic.Fld: ExecuteFld(ref d); break;
            case Mnemonic.Fild: ExecuteFild(ref d); break;
            case Mnemonic.Fbld: ExecuteFbld(ref d); break;
            case Mnemonic.Fst: ExecuteFst(ref d, pop: false); break;
            case Mnemonic.Fstp: ExecuteFst(ref d, pop: true); break;
            case Mnemonic.Fist: ExecuteFist(ref d, pop: false); break;
            case Mnemonic.Fistp: ExecuteFist(ref d, pop: true); break;
            case Mnemonic.Fbstp: ExecuteFbstp(ref d); break;
            case Mnemonic.Fxch: ExecuteFxch(ref d); break;
            case Mnemonic.Fld1: PushConstant(0x3FFF, (UInt128)1 << 127); break;
            case Mnemonic.Fldz: PushConstant(0, UInt128.Zero); break;
            case Mnemonic.Fldpi: PushConstant(0x4000, new UInt128(0xC90FDAA22168C234, 0xC4C6628B80DC1CD1)); break;
            case Mnemonic.Fldl2e: PushConstant(0x3FFF, new UInt128(0xB8AA3B295C17F0BB, 0xBE87FED0691D3E89)); break;
            case Mnemonic.Fldl2t: PushConstant(0x4000, new UInt128(0xD49A784BCD1B8AFE, 0x492BF6FF4DAFDB4C)); break;
            case Mnemonic.Fldlg2: PushConstant(0x3FFD, new UInt128(0x9A209A84FBCFF798, 0x8F8959AC0B7C9178)); break;
            case Mnemonic.Fldln2: PushConstant(0x3FFE, new UInt128(0xB17217F7D1CF79AB, 0xC9E3B39803F2F6AF)); break;

            case Mnemonic.Fadd: case Mnemonic.Faddp: case Mnemonic.Fiadd: ExecuteFpuArithmetic(ref d, FpuOp.Add, m == Mnemonic.Faddp); break;
            case Mnemonic.Fsub: case Mnemonic.Fsubp: case Mnemonic.Fisub: ExecuteFpuArithmetic(ref d, FpuOp.Sub, m == Mnemonic.Fsubp); break;
            case Mnemonic.Fsubr: case Mnemonic.Fsubrp: case Mnemonic.Fisubr: ExecuteFpuArithmetic(ref d, FpuOp.SubR, m == Mnemonic.Fsubrp); break;
            case Mnemonic.Fmul: case Mnemonic.Fmulp: case Mnemonic.Fimul: ExecuteFpuArithmetic(ref d, FpuOp.Mul, m == Mnemonic.Fmulp); break;
            case Mnemonic.Fdiv: case Mnemonic.Fdivp: case Mnemonic.Fidiv: ExecuteFpuArithmetic(ref d, FpuOp.Div, m == Mnemonic.Fdivp); break;
            case Mnemonic.Fdivr: case Mnemonic.Fdivrp: case Mnemonic.Fidivr: ExecuteFpuArithmetic(ref d, FpuOp.DivR, m == Mnemonic.Fdivrp); break;

            case Mnemonic.Fsqrt: ExecuteFpuUnary(FpuUnary.Sqrt); break;
            case Mnemonic.Frndint: ExecuteFpuUnary(FpuUnary.RoundInt); break;
            case Mnemonic.Fabs: ExecuteFpuUnary(FpuUnary.Abs); break;
            case Mnemonic.Fchs: ExecuteFpuUnary(FpuUnary.Chs); break;
            case Mnemonic.Fscale: ExecuteFscale(); break;
            case Mnemonic.Fprem: ExecuteFprem(ieee: false); break;
            case Mnemonic.Fprem1: ExecuteFprem(ieee: true); break;
            case Mnemonic.Fxtract: ExecuteFxtract(); break;

            case Mnemonic.Fcom: ExecuteFcom(ref d, quiet: false, pops: 0); break;
            case Mnemonic.Fcomp: ExecuteFcom(ref d, quiet: false, pops: 1); break;
            case Mnemonic.Fcompp: ExecuteFcom(ref d, quiet: false, pops: 2); break;
            case Mnemonic.Fucom: ExecuteFcom(ref d, quiet: true, pops: 0); break;
            case Mnemonic.Fucomp: ExecuteFcom(ref d, quiet: true, pops: 1); break;
            case Mnemonic.Fucompp: ExecuteFcom(ref d, quiet: true, pops: 2); break;
            case Mnemonic.Ficom: ExecuteFcom(ref d, quiet: false, pops: 0); break;
            case Mnemonic.Ficomp: ExecuteFcom(ref d, quiet: false, pops: 1); break;
            case Mnemonic.Ftst: ExecuteFcom(ref d, quiet: false, pops: 0, againstZero: true); break;
            case Mnemonic.Fxam: ExecuteFxam(); break;
            case Mnemonic.Fcomi: ExecuteFcomi(ref d, quiet: false, pop: false); break;
            case Mnemonic.Fcomip: ExecuteFcomi(ref d, quiet: false, pop: true); break;
            case Mnemonic.Fucomi: ExecuteFcomi(ref d, quiet: true, pop: false); break;
            case Mnemonic.Fucomip: ExecuteFcomi(ref d, quiet: true, pop: true); break;
            case Mnemonic.Fcmovb: ExecuteFcmov(ref d, Condition(2)); break;
            case Mnemonic.Fcmovnb: ExecuteFcmov(ref d, Condition(3)); break;
            case Mnemonic.Fcmove: ExecuteFcmov(ref d, Condition(4)); break;
            case Mnemonic.Fcmovne: ExecuteFcmov(ref d, Condition(5)); break;
            case Mnemonic.Fcmovbe: ExecuteFcmov(ref d, Condition(6)); break;
            case Mnemonic.Fcmovnbe: ExecuteFcmov(ref d, Condition(7)); break;
            case Mnemonic.Fcmovu: ExecuteFcmov(ref d, Condition(10)); break;
            case Mnemonic.Fcmovnu: ExecuteFcmov(ref d, Condition(11)); break;

            case Mnemonic.Ffree: _fpu.Free(StOperand(ref d, 0)); break;
            case Mnemonic.Ffreep: _fpu.Free(StOperand(ref d, 0)); _fpu.Pop(); break;
            case Mnemonic.Fincstp: _fpu.Top = (_fpu.Top + 1) & 7; _fpu.SetCondition(X87State.StatusC1, false); break;
            case Mnemonic.Fdecstp: _fpu.Top = (_fpu.Top - 1) & 7; _fpu.SetCondition(X87State.StatusC1, false); break;

            case Mnemonic.Fsin: case Mnemonic.Fcos: case Mnemonic.Fsincos: case Mnemonic.Fptan:
            case Mnemonic.Fpatan: case Mnemonic.F2xm1: case Mnemonic.Fyl2x: case Mnemonic.Fyl2xp1:
                ExecuteFpuTranscendental(m); break;

            default: RaiseFault(ExceptionVector.InvalidOpcode); break;
        }
    }

    // ---------------------------------------------------------------- pointers

    /// <summary>FIP/FCS/FOP (and FDP/FDS for memory forms) of the last non-control instruction.</summary>
    private void RecordFpuPointers(ref DecodedInstruction d)
    {
        _fpu.Fip = (uint)_instructionIp;
        _fpu.Fcs = _state.Segments[SegmentIndex.CS].Selector;
        _fpu.Fop = ReadFpuOpcode();
        if (d.Instruction.Op0Kind == OpKind.Memory || (d.Instruction.OpCount > 1 && d.Instruction.Op1Kind == OpKind.Memory))
        {
            _fpu.Fdp = (uint)EffectiveAddress(ref d);
            _fpu.Fds = _state.Segments[MemorySegment(ref d)].Selector;
        }
    }

    /// <summary>Reads the escape byte and ModR/M back from the code (skipping prefixes) without raising faults.</summary>
    private ushort ReadFpuOpcode()
    {
        ref SegmentRegister cs = ref _state.Segments[SegmentIndex.CS];
        bool user = _state.Cpl == 3;
        for (int i = 0; i < 14; i++)
        {
            int b = PeekCodeByte(cs.Base + ((_instructionIp + (ulong)i) & IpMask), user);
            if (b < 0)
                return 0;
            if (b is >= 0xD8 and <= 0xDF)
            {
                int modrm = PeekCodeByte(cs.Base + ((_instructionIp + (ulong)i + 1) & IpMask), user);
                return modrm < 0 ? (ushort)0 : (ushort)(((b & 7) << 8) | modrm);
            }
        }
        return 0;
    }

    private int PeekCodeByte(ulong linear, bool user)
    {
        if (!TranslateLinear(linear & 0xFFFF_FFFFUL, write: false, user, fetch: true, out ulong physical, raiseFault: false))
            return -1;
        return (int)(byte)ReadPhysical(physical, 1);
    }

    // ---------------------------------------------------------------- memory

    private ulong ReadFpuMemory(ref DecodedInstruction d, int size) => ReadSegment(MemorySegment(ref d), EffectiveAddress(ref d), size);

    private void WriteFpuMemory(ref DecodedInstruction d, int size, ulong value) => WriteSegment(MemorySegment(ref d), EffectiveAddress(ref d), size, value);

    private Float80 ReadFloat80(ref DecodedInstruction d)
    {
        int seg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        if (!CheckSegmentAccess(seg, ea, 10, write: false))
            return default;
        ulong lo = ReadSegment(seg, ea, 8);
        ulong hi = ReadSegment(seg, ea + 8, 2);
        return new Float80((ushort)hi, lo);
    }

    private void WriteFloat80(ref DecodedInstruction d, Float80 value) => WriteTenBytes(ref d, value.Significand, value.SignExponent);

    private void WriteTenBytes(ref DecodedInstruction d, ulong low, ushort high)
    {
        int seg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        if (!ProbeFpuWrite(seg, ea, 10))
            return;
        WriteSegment(seg, ea, 8, low);
        WriteSegment(seg, ea + 8, 2, high);
    }

    /// <summary>Checks a whole block for writing (segment and every page) so a store faults before writing any byte.</summary>
    private bool ProbeFpuWrite(int seg, ulong offset, int length)
    {
        if (!CheckSegmentAccess(seg, offset, length, write: true))
            return false;
        ulong linear = LinearOf(seg, offset);
        bool user = _state.Cpl == 3;
        ulong last = (linear + (ulong)length - 1) & 0xFFFF_FFFFUL;
        for (ulong page = linear & ~0xFFFUL; ; page = (page + 0x1000) & 0xFFFF_F000UL)
        {
            ulong at = page < linear ? linear : page;
            if (!ProbeWritable(at, 1, user))
                return false;
            if ((page >> 12) == (last >> 12))
                return true;
        }
    }

    private bool ReadFpuBlock(int seg, ulong offset, Span<byte> dst)
    {
        if (!CheckSegmentAccess(seg, offset, dst.Length, write: false))
            return false;
        int i = 0;
        for (; i + 8 <= dst.Length; i += 8)
            BitConverter.TryWriteBytes(dst[i..], ReadSegment(seg, offset + (ulong)i, 8));
        for (; i < dst.Length; i++)
            dst[i] = (byte)ReadSegment(seg, offset + (ulong)i, 1);
        return !Faulted;
    }

    private bool WriteFpuBlock(int seg, ulong offset, ReadOnlySpan<byte> src)
    {
        if (!ProbeFpuWrite(seg, offset, src.Length))
            return false;
        int i = 0;
        for (; i + 8 <= src.Length; i += 8)
            WriteSegment(seg, offset + (ulong)i, 8, BitConverter.ToUInt64(src[i..]));
        for (; i < src.Length; i++)
            WriteSegment(seg, offset + (ulong)i, 1, src[i]);
        return !Faulted;
    }

    /// <summary>Reads a memory operand as an extended value: m32/m64 real (converted, may raise IE/DE), m16/m32/m64 int.</summary>
    private Float80 ReadFpuMemoryOperand(ref DecodedInstruction d)
    {
        SoftFloat80 a = _fpu.Arithmetic;
        switch (d.Instruction.MemorySize)
        {
            case MemorySize.Float32: return a.FromBinary(ReadFpuMemory(ref d, 4), 8, 23);
            case MemorySize.Float64: return a.FromBinary(ReadFpuMemory(ref d, 8), 11, 52);
            case MemorySize.Float80: return ReadFloat80(ref d);
            case MemorySize.Int16: return a.FromInt64((short)ReadFpuMemory(ref d, 2));
            case MemorySize.Int32: return a.FromInt64((int)ReadFpuMemory(ref d, 4));
            case MemorySize.Int64: return a.FromInt64((long)ReadFpuMemory(ref d, 8));
            default: RaiseFault(ExceptionVector.InvalidOpcode); return default;
        }
    }

    private static int StOperand(ref DecodedInstruction d, int op) => d.Instruction.GetOpRegister(op) - Register.ST0;

    /// <summary>The ST(i) source of a register-form compare/exchange: the last operand, or ST(1) when there is none.</summary>
    private static int StSource(ref DecodedInstruction d)
    {
        int count = d.Instruction.OpCount;
        return count == 0 ? 1 : StOperand(ref d, count - 1);
    }

    private static bool HasMemoryOperand(ref DecodedInstruction d) => d.Instruction.OpCount > 0 && d.Instruction.Op0Kind == OpKind.Memory;

    // ---------------------------------------------------------------- stack faults and results

    /// <summary>Stack underflow (an empty register read): IE+SF, C1 = 0. True if the exception is masked.</summary>
    private bool FpuStackUnderflow()
    {
        _fpu.SetStackFault(overflow: false);
        return (_fpu.Control & FpuIE) != 0;
    }

    /// <summary>Pushes a value, or handles stack overflow (IE+SF, C1 = 1; masked pushes the indefinite).</summary>
    private void FpuPush(Float80 value)
    {
        if (!_fpu.IsEmpty(7))
        {
            _fpu.SetStackFault(overflow: true);
            if ((_fpu.Control & FpuIE) != 0)
                _fpu.Push(Float80.Indefinite);
            return;
        }
        _fpu.Push(value);
    }

    /// <summary>Raises the flags of the last operation; false when an unmasked IE/DE/ZE forbids storing the result.</summary>
    private bool FpuCommitFlags(bool memoryDestination = false)
    {
        SoftFloat80 a = _fpu.Arithmetic;
        int flags = a.Flags;
        _fpu.RaiseFlags(flags);
        _fpu.SetCondition(X87State.StatusC1, a.RoundedUp && (flags & SoftFloat80.PrecisionFlag) != 0);
        int blocking = FpuIE | FpuDE | FpuZE | (memoryDestination ? FpuOE | FpuUE : 0);
        return (flags & ~_fpu.Control & blocking) == 0;
    }

    private void PushConstant(int exponent, UInt128 significand)
    {
        SoftFloat80 a = _fpu.Arithmetic;
        Float80 value = significand == UInt128.Zero ? Float80.Zero : a.FromConstant(false, exponent, significand);
        a.Flags = 0;
        _fpu.SetCondition(X87State.StatusC1, false);
        FpuPush(value);
    }

    // ---------------------------------------------------------------- loads and stores

    private void ExecuteFld(ref DecodedInstruction d)
    {
        Float80 value;
        if (HasMemoryOperand(ref d))
        {
            value = ReadFpuMemoryOperand(ref d);
            if (Faulted || !FpuCommitFlags())
                return;
        }
        else
        {
            int src = StOperand(ref d, 0);
            if (_fpu.IsEmpty(src))
            {
                if (FpuStackUnderflow())
                    FpuPush(Float80.Indefinite);
                return;
            }
            value = _fpu.St(src);
        }
        _fpu.SetCondition(X87State.StatusC1, false);
        FpuPush(value);
    }

    private void ExecuteFild(ref DecodedInstruction d)
    {
        Float80 value = ReadFpuMemoryOperand(ref d);
        if (Faulted)
            return;
        _fpu.SetCondition(X87State.StatusC1, false);
        FpuPush(value);
    }

    private void ExecuteFbld(ref DecodedInstruction d)
    {
        int seg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        if (!CheckSegmentAccess(seg, ea, 10, write: false))
            return;
        ulong lo = ReadSegment(seg, ea, 8);
        ulong hi = ReadSegment(seg, ea + 8, 2);
        if (Faulted)
            return;
        long value = 0;
        for (int digit = 17; digit >= 0; digit--)
        {
            int nibble = digit >= 16 ? (int)((hi >> ((digit - 16) * 4)) & 0xF) : (int)((lo >> (digit * 4)) & 0xF);
            value = value * 10 + nibble;
        }
        Float80 result = _fpu.Arithmetic.FromInt64(value);
        if ((hi & 0x8000) != 0)
            result = result.Negate();
        _fpu.SetCondition(X87State.StatusC1, false);
        FpuPush(result);
    }

    private void ExecuteFst(ref DecodedInstruction d, bool pop)
    {
        SoftFloat80 a = _fpu.Arithmetic;
        bool memory = HasMemoryOperand(ref d);
        if (_fpu.IsEmpty(0))
        {
            if (!FpuStackUnderflow())
                return;
            if (memory)
                StoreFpuMemoryValue(ref d, Float80.Indefinite);
            else
                _fpu.SetSt(StOperand(ref d, 0), Float80.Indefinite);
            if (!Faulted && pop)
                _fpu.Pop();
            return;
        }
        Float80 value = _fpu.St(0);
        if (memory)
        {
            if (!StoreFpuMemoryValue(ref d, value))
                return;
        }
        else
        {
            _fpu.SetSt(StOperand(ref d, 0), value);
            _fpu.SetCondition(X87State.StatusC1, false);
        }
        _ = a;
        if (pop)
            _fpu.Pop();
    }

    /// <summary>FST/FSTP to m32/m64/m80. False when nothing was stored (fault or unmasked exception).</summary>
    private bool StoreFpuMemoryValue(ref DecodedInstruction d, Float80 value)
    {
        SoftFloat80 a = _fpu.Arithmetic;
        switch (d.Instruction.MemorySize)
        {
            case MemorySize.Float80:
                WriteFloat80(ref d, value);
                _fpu.SetCondition(X87State.StatusC1, false);
                return !Faulted;
            case MemorySize.Float32:
            case MemorySize.Float64:
            {
                bool single = d.Instruction.MemorySize == MemorySize.Float32;
                ulong ea = EffectiveAddress(ref d);
                int seg = MemorySegment(ref d);
                int size = single ? 4 : 8;
                ReadSegmentForWrite(seg, ea, size);
                if (Faulted)
                    return false;
                ulong bits = single ? a.ToBinary(value, 8, 23) : a.ToBinary(value, 11, 52);
                a.Flags &= ~FpuDE;
                if (!FpuCommitFlags(memoryDestination: true))
                    return false;
                WriteSegment(seg, ea, size, bits);
                return !Faulted;
            }
            default:
                RaiseFault(ExceptionVector.InvalidOpcode);
                return false;
        }
    }

    private void ExecuteFist(ref DecodedInstruction d, bool pop)
    {
        SoftFloat80 a = _fpu.Arithmetic;
        int size = d.Instruction.MemorySize switch { MemorySize.Int16 => 2, MemorySize.Int32 => 4, _ => 8 };
        int seg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        ReadSegmentForWrite(seg, ea, size);
        if (Faulted)
            return;
        long result;
        if (_fpu.IsEmpty(0))
        {
            if (!FpuStackUnderflow())
                return;
            result = size == 8 ? long.MinValue : -(1L << (size * 8 - 1));
        }
        else
        {
            result = a.ToInt(_fpu.St(0), size * 8, truncate: d.Instruction.Mnemonic == Mnemonic.Fisttp);
            a.Flags &= ~FpuDE;
            if (!FpuCommitFlags(memoryDestination: true))
                return;
        }
        WriteSegment(seg, ea, size, (ulong)result);
        if (!Faulted && pop)
            _fpu.Pop();
    }

    private void ExecuteFbstp(ref DecodedInstruction d)
    {
        SoftFloat80 a = _fpu.Arithmetic;
        int seg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        if (!ProbeFpuWrite(seg, ea, 10))
            return;
        ulong lo = 0, hi = 0;
        bool indefinite = false;
        if (_fpu.IsEmpty(0))
        {
            if (!FpuStackUnderflow())
                return;
            indefinite = true;
        }
        else
        {
            Float80 v = _fpu.St(0);
            long n = a.ToInt(v, 64, truncate: false);
            const long maxBcd = 999_999_999_999_999_999;
            if ((a.Flags & FpuIE) == 0 && (n > maxBcd || n < -maxBcd))
            {
                a.Flags = (a.Flags & ~SoftFloat80.PrecisionFlag) | FpuIE;
                a.RoundedUp = false;
            }
            a.Flags &= ~FpuDE;
            if (!FpuCommitFlags(memoryDestination: true))
                return;
            if ((a.Flags & FpuIE) != 0)
            {
                indefinite = true;
            }
            else
            {
                ulong magnitude = (ulong)Math.Abs(n);
                for (int digit = 0; digit < 18; digit++)
                {
                    ulong nibble = magnitude % 10;
                    magnitude /= 10;
                    if (digit < 16)
                        lo |= nibble << (digit * 4);
                    else
                        hi |= nibble << ((digit - 16) * 4);
                }
                if (v.Sign)
                    hi |= 0x8000;
            }
        }
        if (indefinite)
        {
            lo = 0xC000_0000_0000_0000;
            hi = 0xFFFF;
        }
        WriteTenBytes(ref d, lo, (ushort)hi);
        if (!Faulted)
            _fpu.Pop();
    }

    private void ExecuteFxch(ref DecodedInstruction d)
    {
        int i = StSource(ref d);
        if (_fpu.IsEmpty(0) || _fpu.IsEmpty(i))
        {
            if (!FpuStackUnderflow())
                return;
            Float80 st0 = _fpu.IsEmpty(0) ? Float80.Indefinite : _fpu.St(0);
            Float80 sti = _fpu.IsEmpty(i) ? Float80.Indefinite : _fpu.St(i);
            _fpu.SetSt(0, sti);
            _fpu.SetSt(i, st0);
            return;
        }
        Float80 t = _fpu.St(0);
        _fpu.SetSt(0, _fpu.St(i));
        _fpu.SetSt(i, t);
        _fpu.SetCondition(X87State.StatusC1, false);
    }

    // ---------------------------------------------------------------- arithmetic

    private enum FpuOp { Add, Sub, SubR, Mul, Div, DivR }

    private enum FpuUnary { Sqrt, RoundInt, Abs, Chs }

    private Float80 FpuApply(FpuOp op, Float80 x, Float80 y)
    {
        SoftFloat80 a = _fpu.Arithmetic;
        return op switch
        {
            FpuOp.Add => a.Add(x, y),
            FpuOp.Sub => a.Subtract(x, y),
            FpuOp.SubR => a.Subtract(y, x),
            FpuOp.Mul => a.Multiply(x, y),
            FpuOp.Div => a.Divide(x, y),
            _ => a.Divide(y, x),
        };
    }

    /// <summary>dest = dest op src; forms: op m32/m64/m16int/m32int (dest ST0), op ST0,STi, op STi,ST0 and the popping forms.</summary>
    private void ExecuteFpuArithmetic(ref DecodedInstruction d, FpuOp op, bool pop)
    {
        int dest;
        Float80 src;
        if (HasMemoryOperand(ref d))
        {
            dest = 0;
            src = ReadFpuMemoryOperand(ref d);
            if (Faulted)
                return;
            if (_fpu.IsEmpty(0))
            {
                if (FpuStackUnderflow())
                    _fpu.SetSt(0, Float80.Indefinite);
                return;
            }
        }
        else
        {
            dest = d.Instruction.OpCount == 2 ? StOperand(ref d, 0) : 1;
            int srcIndex = d.Instruction.OpCount == 2 ? StOperand(ref d, 1) : 0;
            if (_fpu.IsEmpty(dest) || _fpu.IsEmpty(srcIndex))
            {
                if (FpuStackUnderflow())
                {
                    _fpu.SetSt(dest, Float80.Indefinite);
                    if (pop)
                        _fpu.Pop();
                }
                return;
            }
            src = _fpu.St(srcIndex);
        }
        Float80 result = FpuApply(op, _fpu.St(dest), src);
        if (!FpuCommitFlags())
            return;
        _fpu.SetSt(dest, result);
        if (pop)
            _fpu.Pop();
    }

    private void ExecuteFpuUnary(FpuUnary op)
    {
        if (_fpu.IsEmpty(0))
        {
            if (FpuStackUnderflow())
                _fpu.SetSt(0, Float80.Indefinite);
            return;
        }
        SoftFloat80 a = _fpu.Arithmetic;
        Float80 x = _fpu.St(0);
        Float80 result = op switch
        {
            FpuUnary.Sqrt => a.SquareRoot(x),
            FpuUnary.RoundInt => a.RoundToIntegral(x),
            FpuUnary.Abs => x.Abs(),
            _ => x.Negate(),
        };
        if (op is FpuUnary.Abs or FpuUnary.Chs)
            a.RoundedUp = false;
        if (!FpuCommitFlags())
            return;
        _fpu.SetSt(0, result);
    }

    /// <summary>Reads ST(0) and ST(1) for a two-register instruction; on underflow handles the masked response and returns false.</summary>
    private bool FpuTwoOperands(out Float80 st0, out Float80 st1, bool writeIndefiniteToSt1 = false)
    {
        if (_fpu.IsEmpty(0) || _fpu.IsEmpty(1))
        {
            if (FpuStackUnderflow())
                _fpu.SetSt(writeIndefiniteToSt1 ? 1 : 0, Float80.Indefinite);
            st0 = st1 = default;
            return false;
        }
        st0 = _fpu.St(0);
        st1 = _fpu.St(1);
        return true;
    }

    private void ExecuteFscale()
    {
        if (!FpuTwoOperands(out Float80 st0, out Float80 st1))
            return;
        Float80 result = _fpu.Arithmetic.Scale(st0, st1);
        if (FpuCommitFlags())
            _fpu.SetSt(0, result);
    }

    private void ExecuteFprem(bool ieee)
    {
        if (!FpuTwoOperands(out Float80 st0, out Float80 st1))
            return;
        (Float80 result, int q, bool incomplete) = _fpu.Arithmetic.Remainder(st0, st1, ieee);
        _fpu.Arithmetic.RoundedUp = false;
        if (!FpuCommitFlags())
            return;
        _fpu.SetSt(0, result);
        ushort cc = incomplete ? X87State.StatusC2 : (ushort)(((q & 4) != 0 ? X87State.StatusC0 : 0) | ((q & 2) != 0 ? X87State.StatusC3 : 0)
                                                             | ((q & 1) != 0 ? X87State.StatusC1 : 0));
        _fpu.SetConditionCodes(cc);
    }

    private void ExecuteFxtract()
    {
        if (_fpu.IsEmpty(0))
        {
            if (FpuStackUnderflow())
            {
                _fpu.SetSt(0, Float80.Indefinite);
                FpuPush(Float80.Indefinite);
            }
            return;
        }
        if (!_fpu.IsEmpty(7))
        {
            FpuPush(default);
            return;
        }
        (Float80 exponent, Float80 significand) = _fpu.Arithmetic.Extract(_fpu.St(0));
        if (!FpuCommitFlags())
            return;
        _fpu.SetSt(0, exponent);
        _fpu.Push(significand);
    }

    // ---------------------------------------------------------------- comparisons

    private void ExecuteFcom(ref DecodedInstruction d, bool quiet, int pops, bool againstZero = false)
    {
        SoftFloat80 a = _fpu.Arithmetic;
        Float80 src;
        if (againstZero)
        {
            src = Float80.Zero;
        }
        else if (HasMemoryOperand(ref d))
        {
            src = ReadFpuMemoryOperand(ref d);
            if (Faulted)
                return;
        }
        else
        {
            int i = StSource(ref d);
            if (_fpu.IsEmpty(i))
            {
                FpuCompareUnderflow(pops);
                return;
            }
            src = _fpu.St(i);
        }
        if (_fpu.IsEmpty(0))
        {
            FpuCompareUnderflow(pops);
            return;
        }
        int r = a.Compare(_fpu.St(0), src, quiet);
        a.RoundedUp = false;
        if (!FpuCommitFlags())
            return;
        _fpu.SetConditionCodes(CompareCodes(r));
        for (int i = 0; i < pops; i++)
            _fpu.Pop();
    }

    private void FpuCompareUnderflow(int pops)
    {
        if (!FpuStackUnderflow())
            return;
        _fpu.SetConditionCodes(X87State.StatusC0 | X87State.StatusC2 | X87State.StatusC3);
        for (int i = 0; i < pops; i++)
            _fpu.Pop();
    }

    private static ushort CompareCodes(int r) => r switch
    {
        -1 => X87State.StatusC0,
        0 => X87State.StatusC3,
        1 => 0,
        _ => X87State.StatusC0 | X87State.StatusC2 | X87State.StatusC3,
    };

    private void ExecuteFcomi(ref DecodedInstruction d, bool quiet, bool pop)
    {
        int i = StSource(ref d);
        const uint zpc = EflagsBits.ZF | EflagsBits.PF | EflagsBits.CF;
        const uint all = zpc | EflagsBits.OF | EflagsBits.SF | EflagsBits.AF;
        if (_fpu.IsEmpty(0) || _fpu.IsEmpty(i))
        {
            if (!FpuStackUnderflow())
                return;
            SetEflags(zpc, all);
        }
        else
        {
            SoftFloat80 a = _fpu.Arithmetic;
            int r = a.Compare(_fpu.St(0), _fpu.St(i), quiet);
            a.RoundedUp = false;
            if (!FpuCommitFlags())
                return;
            uint flags = r switch { -1 => EflagsBits.CF, 0 => EflagsBits.ZF, 1 => 0u, _ => zpc };
            SetEflags(flags, all);
        }
        if (pop)
            _fpu.Pop();
    }

    private void ExecuteFxam()
    {
        Float80 x = _fpu.St(0);
        ushort c1 = x.Sign ? X87State.StatusC1 : (ushort)0;
        ushort cls;
        if (_fpu.IsEmpty(0))
            cls = X87State.StatusC3 | X87State.StatusC0;
        else if (x.IsUnsupported)
            cls = 0;
        else if (x.IsNaN)
            cls = X87State.StatusC0;
        else if (x.IsInfinity)
            cls = X87State.StatusC2 | X87State.StatusC0;
        else if (x.IsZero)
            cls = X87State.StatusC3;
        else if (x.IsDenormal)
            cls = X87State.StatusC3 | X87State.StatusC2;
        else
            cls = X87State.StatusC2;
        _fpu.SetConditionCodes((ushort)(cls | c1));
    }

    private void ExecuteFcmov(ref DecodedInstruction d, bool condition)
    {
        int i = StSource(ref d);
        if (_fpu.IsEmpty(0) || _fpu.IsEmpty(i))
        {
            if (FpuStackUnderflow())
                _fpu.SetSt(0, Float80.Indefinite);
            return;
        }
        _fpu.SetCondition(X87State.StatusC1, false);
        if (condition)
            _fpu.SetSt(0, _fpu.St(i));
    }

    // ---------------------------------------------------------------- environment, save/restore

    private bool FpuRealModeFormat => !_state.ProtectedMode || _state.Virtual8086;

    private void ExecuteFpuStoreEnvironment(ref DecodedInstruction d, bool withRegisters)
    {
        bool operand32 = d.Instruction.MemorySize is MemorySize.FpuEnv28 or MemorySize.FpuState108;
        Span<byte> image = _fpuImage.AsSpan(0, X87SaveFormats.EnvironmentSize(operand32) + (withRegisters ? 80 : 0));
        if (withRegisters)
            X87SaveFormats.WriteSave(_fpu, image, operand32, FpuRealModeFormat);
        else
            X87SaveFormats.WriteEnvironment(_fpu, image, operand32, FpuRealModeFormat);
        if (!WriteFpuBlock(MemorySegment(ref d), EffectiveAddress(ref d), image))
            return;
        if (withRegisters)
            _fpu.Init();
        else
            _fpu.SetControl((ushort)(_fpu.Control | 0x3F));
    }

    private void ExecuteFpuLoadEnvironment(ref DecodedInstruction d, bool withRegisters)
    {
        bool operand32 = d.Instruction.MemorySize is MemorySize.FpuEnv28 or MemorySize.FpuState108;
        Span<byte> image = _fpuImage.AsSpan(0, X87SaveFormats.EnvironmentSize(operand32) + (withRegisters ? 80 : 0));
        if (!ReadFpuBlock(MemorySegment(ref d), EffectiveAddress(ref d), image))
            return;
        if (withRegisters)
            X87SaveFormats.ReadSave(_fpu, image, operand32, FpuRealModeFormat);
        else
            X87SaveFormats.ReadEnvironment(_fpu, image, operand32, FpuRealModeFormat);
    }

    /// <summary>FXSAVE / FXRSTOR (0F AE /0, /1): #NM on CR0.EM or CR0.TS, #GP(0) unless 16-byte aligned.</summary>
    private void ExecuteFxsaveFxrstor(ref DecodedInstruction d)
    {
        if ((_state.Cr0 & (ControlRegisters.Cr0Em | ControlRegisters.Cr0Ts)) != 0)
        {
            RaiseFault(ExceptionVector.DeviceNotAvailable);
            return;
        }
        int seg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        if ((LinearOf(seg, ea) & 15) != 0)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        Span<byte> image = _fpuImage.AsSpan(0, X87SaveFormats.FxsaveSize);
        if (d.Instruction.Mnemonic == Mnemonic.Fxsave)
        {
            // The whole area must be writable (faults come first); only the x87 part (0..159) is written, the
            // XMM area is left as it was since there is no SSE unit.
            if (!ProbeFpuWrite(seg, ea, X87SaveFormats.FxsaveSize))
                return;
            X87SaveFormats.WriteFxsave(_fpu, image);
            WriteFpuBlock(seg, ea, image[..X87SaveFormats.FxsaveX87Bytes]);
            return;
        }
        if (!ReadFpuBlock(seg, ea, image))
            return;
        if (!X87SaveFormats.ReadFxsave(_fpu, image))
            RaiseFault(ExceptionVector.GeneralProtection, 0);
    }
}
