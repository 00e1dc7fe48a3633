using CodeSize = Iced.Intel.CodeSize;
using Instruction = Iced.Intel.Instruction;
using Mnemonic = Iced.Intel.Mnemonic;
using OpKind = Iced.Intel.OpKind;
using Register = Iced.Intel.Register;
using System.Reflection;
using System.Reflection.Emit;
using SplitEmu.CpuHost.Cpu.Translation;

namespace SplitEmu.CpuHost.Cpu;

// Turns a block of decoded instructions into IL the runtime's JIT compiles to host code (docs/translator.md).
public sealed partial class X86Cpu
{
    /// <summary>
    /// Emits one <see cref="DynamicMethod"/> per block. Register-only forms (MOV, ADD/SUB/AND/OR/XOR, CMP, TEST, LEA,
    /// relative jumps and Jcc) become IL on the register file with constants folded in, arithmetic flags stay lazy in
    /// the same fields the interpreter uses (and are not recorded at all when the next instruction in the block
    /// overwrites them first), and a Jcc right after a CMP/TEST/ALU instruction compares its operands directly.
    /// Every other instruction calls the interpreter's own handler, so its semantics are shared, not copied.
    /// </summary>
    private static class BlockCompiler
    {
        private const BindingFlags Members = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;

        private static readonly FieldInfo s_state = Field(nameof(_state));
        private static readonly FieldInfo s_tlb = Field(nameof(_tlb));
        private static readonly MethodInfo s_readTags = typeof(SoftwareTlb).GetProperty(nameof(SoftwareTlb.ReadTags))!.GetMethod!;
        private static readonly MethodInfo s_readPages = typeof(SoftwareTlb).GetProperty(nameof(SoftwareTlb.ReadPages))!.GetMethod!;
        private static readonly MethodInfo s_writeTags = typeof(SoftwareTlb).GetProperty(nameof(SoftwareTlb.WriteTags))!.GetMethod!;
        private static readonly MethodInfo s_writePages = typeof(SoftwareTlb).GetProperty(nameof(SoftwareTlb.WritePages))!.GetMethod!;
        private static readonly MethodInfo s_flatMemory = Method(nameof(BlockFlatMemory));
        private static readonly FieldInfo s_gpr = typeof(CpuState).GetField(nameof(CpuState.Gpr))!;
        private static readonly FieldInfo s_gprElement = typeof(GeneralRegisters).GetField("_element", Members)!;
        private static readonly FieldInfo s_rip = typeof(CpuState).GetField(nameof(CpuState.Rip))!;
        private static readonly FieldInfo s_eflags = typeof(CpuState).GetField(nameof(CpuState.Eflags))!;
        private static readonly FieldInfo s_instructionIp = Field(nameof(_instructionIp));
        private static readonly FieldInfo s_nextIp = Field(nameof(_nextIp));
        private static readonly FieldInfo s_faultVector = Field(nameof(_faultVector));
        private static readonly FieldInfo s_eventsPending = Field(nameof(_eventsPending));
        private static readonly FieldInfo s_flagsOp = Field(nameof(_flagsOp));
        private static readonly FieldInfo s_flagsSignBit = Field(nameof(_flagsSignBit));
        private static readonly FieldInfo s_flagsResult = Field(nameof(_flagsResult));
        private static readonly FieldInfo s_flagsA = Field(nameof(_flagsA));
        private static readonly FieldInfo s_flagsB = Field(nameof(_flagsB));

        private static readonly MethodInfo s_fastAlu = Method(nameof(BlockAlu));
        private static readonly MethodInfo s_fastCompare = Method(nameof(BlockCompare));
        private static readonly MethodInfo s_fastMov = Method(nameof(BlockMov));
        private static readonly MethodInfo s_fastMovExtend = Method(nameof(BlockMovExtend));
        private static readonly MethodInfo s_fastIncDec = Method(nameof(BlockIncDec));
        private static readonly MethodInfo s_fastPop = Method(nameof(BlockPop));
        private static readonly MethodInfo s_fastCall = Method(nameof(BlockCall));
        private static readonly MethodInfo s_fastRet = Method(nameof(BlockRet));
        private static readonly MethodInfo s_fastShift = Method(nameof(BlockShift));
        private static readonly MethodInfo s_executeGeneric = Method(nameof(BlockGeneric));
        private static readonly MethodInfo s_executeLocked = Method(nameof(BlockLocked));
        private static readonly MethodInfo s_push = Method(nameof(BlockPush));
        private static readonly MethodInfo s_condition = Method(nameof(BlockCondition));
        private static readonly MethodInfo s_blockJump = Method(nameof(BlockJump));
        private static readonly MethodInfo s_readOf = Method(nameof(BlockReadOf));
        private static readonly MethodInfo s_writeOf = Method(nameof(BlockWriteOf));
        private static readonly MethodInfo s_shiftCore = Method(nameof(BlockShiftValue));
        private static readonly MethodInfo s_setIncDecFlags = Method(nameof(BlockIncDecFlags));
        private static readonly MethodInfo s_multiplyFlags = Method(nameof(BlockMultiplyFlags));
        private static readonly MethodInfo s_rotateFlags = Method(nameof(BlockRotateFlags));

        private static FieldInfo Field(string name) => typeof(X86Cpu).GetField(name, Members)
            ?? throw new MissingFieldException(nameof(X86Cpu), name);

        private static MethodInfo Method(string name) => typeof(X86Cpu).GetMethod(name, Members)
            ?? throw new MissingMethodException(nameof(X86Cpu), name);

        /// <summary>Compiles the block as a method whose first argument is bound to <paramref name="cpu"/> (no shuffle thunk per call).</summary>
        public static BlockCode Compile(X86Cpu cpu, DecodedInstruction[] instructions)
        {
            var method = new DynamicMethod("guest_block", typeof(int), [typeof(X86Cpu), typeof(DecodedInstruction[]), typeof(ulong), typeof(int)],
                                           typeof(X86Cpu), skipVisibility: true);
            new Emitter(method.GetILGenerator(), instructions).EmitBlock();
            return (BlockCode)method.CreateDelegate(typeof(BlockCode), cpu);
        }

        /// <summary>What an instruction does to the arithmetic flags, for the liveness pass and Jcc fusion.</summary>
        private enum FlagEffect : byte
        {
            /// <summary>Inline, writes every arithmetic flag from (a, b, r) and reads none.</summary>
            InlineWriter,
            /// <summary>Inline, leaves the flags alone and cannot fault.</summary>
            Untouched,
            /// <summary>Reads the flags, may fault or leave the block: the flags before it must be exact.</summary>
            Observer,
            /// <summary>
            /// Inline, cannot fault, writes every arithmetic flag but CF (INC/DEC): its flags need recording only when
            /// someone can look after it, and then the CF from before it is needed too.
            /// </summary>
            PartialWriter,
            /// <summary>
            /// Inline, writes every arithmetic flag from (a, b, r) after a memory read that may fault or raise an event:
            /// the flags before it must be exact (a fault), and so must its own (the block may leave right after it).
            /// </summary>
            MemoryWriter,
        }

        private sealed class Emitter
        {
            private readonly ILGenerator _il;
            private readonly DecodedInstruction[] _code;
            private readonly int[] _offsets;
            private readonly bool[] _recordFlags;
            private readonly LocalBuilder _gpr, _a, _b, _r, _retired;
            private LocalBuilder? _product;
            /// <summary>Segments the block's inline memory accesses use (a bit each), 0 when they all take the accessors.</summary>
            private readonly int _flatSegments;
            /// <summary>Set at entry when <see cref="_flatSegments"/> is not 0: the TLB's user bit, or -1 (not flat).</summary>
            private LocalBuilder? _tagUser, _readTags, _readPages, _writeTags, _writePages, _linear, _value, _index;
            private readonly Label _start;
            /// <summary>0xFFFF for 16-bit code, 0xFFFFFFFF for 32-bit (the block's code size is part of its key).</summary>
            private readonly long _ipMask;
            private readonly List<(Label Label, int Index)> _faultExits = [];
            private readonly List<(Label Label, int Index)> _eventExits = [];

            public Emitter(ILGenerator il, DecodedInstruction[] code)
            {
                _il = il;
                _code = code;
                _offsets = new int[code.Length];
                for (int k = 1; k < code.Length; k++)
                    _offsets[k] = _offsets[k - 1] + code[k - 1].Length;
                _recordFlags = FlagsLiveness(code);
                _gpr = il.DeclareLocal(typeof(ulong).MakeByRefType());
                _a = il.DeclareLocal(typeof(ulong));
                _b = il.DeclareLocal(typeof(ulong));
                _r = il.DeclareLocal(typeof(ulong));
                _retired = il.DeclareLocal(typeof(int));
                _ipMask = code[0].Instruction.CodeSize == CodeSize.Code16 ? 0xFFFF : 0xFFFF_FFFF;
                _start = il.DefineLabel();
                _flatSegments = FlatSegmentsOf(code);
            }

            /// <summary>
            /// The segments of the block's inline loads and stores, which then go straight to the TLB when the segments
            /// are flat at entry; 0 (the accessors, always) if the block loads a segment register itself (LDS...).
            /// </summary>
            private static int FlatSegmentsOf(DecodedInstruction[] code)
            {
                int segments = 0;
                for (int k = 0; k < code.Length; k++)
                {
                    ref DecodedInstruction d = ref code[k];
                    if (d.Instruction.Mnemonic is Mnemonic.Lds or Mnemonic.Les or Mnemonic.Lfs or Mnemonic.Lgs or Mnemonic.Lss)
                        return 0;
                    Emission emission = EmissionOf(ref d);
                    if (emission is Emission.MoveThroughMemory or Emission.ArithmeticWithMemory or Emission.ExtendFromMemory
                        || (emission == Emission.Multiply && d.Instruction.Op1Kind == OpKind.Memory))
                        segments |= 1 << d.Segment;
                }
                return segments;
            }

            public void EmitBlock()
            {
                // A negative budget only asks for the method to be compiled (BackgroundBlockCompiler).
                Label run = _il.DefineLabel();
                _il.Emit(OpCodes.Ldarg_3);
                _il.Emit(OpCodes.Ldc_I4_0);
                _il.Emit(OpCodes.Bge, run);
                _il.Emit(OpCodes.Ldc_I4_0);
                _il.Emit(OpCodes.Ret);
                _il.MarkLabel(run);

                // gpr = ref cpu._state.Gpr[0]
                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Ldflda, s_state);
                _il.Emit(OpCodes.Ldflda, s_gpr);
                _il.Emit(OpCodes.Ldflda, s_gprElement);
                _il.Emit(OpCodes.Stloc, _gpr);
                if (_flatSegments != 0)
                    EmitFlatMemoryEntry();
                _il.MarkLabel(_start);

                bool ended = false;
                for (int k = 0; k < _code.Length && !ended; k++)
                    ended = EmitInstruction(k);
                if (!ended)
                {
                    int last = _code.Length - 1;
                    EmitSetRip(_offsets[last] + _code[last].Length);
                    EmitReturn(_code.Length);
                }

                foreach ((Label label, int k) in _faultExits)
                {
                    // The fault is recorded; the dispatcher delivers it with EIP at this instruction, counted as retired.
                    _il.MarkLabel(label);
                    _il.Emit(OpCodes.Ldarg_0);
                    EmitIp(_offsets[k]);
                    _il.Emit(OpCodes.Stfld, s_instructionIp);
                    EmitReturn(k + 1);
                }
                foreach ((Label label, int k) in _eventExits)
                {
                    // Something asynchronous (or a write to this block's code) wants attention: leave after this instruction.
                    _il.MarkLabel(label);
                    EmitSetRip(_offsets[k] + _code[k].Length);
                    EmitReturn(k + 1);
                }
            }

            /// <summary>How an instruction is emitted: the one decision the emitter and the flags liveness pass both read.</summary>
            private enum Emission : byte
            {
                Nothing,
                MoveRegister,
                MoveThroughMemory,
                LoadEffectiveAddress,
                Arithmetic,
                ArithmeticWithMemory,
                ExtendRegister,
                ExtendFromMemory,
                IncDecRegister,
                ShiftRegisterByImmediate,
                Multiply,
                Jump,
                ConditionalJump,
                HelperCall,
            }

            private static Emission EmissionOf(ref DecodedInstruction d) => d.Op switch
            {
                FastOp.Nop => Emission.Nothing,
                FastOp.Mov when d.Form is OperandForm.RegReg or OperandForm.RegImm => Emission.MoveRegister,
                FastOp.Mov when d.Form is OperandForm.RegMem or OperandForm.MemReg or OperandForm.MemImm => Emission.MoveThroughMemory,
                FastOp.Lea when d.Reg0Width is (byte)RegisterWidth.Bits16 or (byte)RegisterWidth.Bits32 => Emission.LoadEffectiveAddress,
                FastOp.Alu or FastOp.Cmp or FastOp.Test when d.Form is OperandForm.RegReg or OperandForm.RegImm
                                                            && (d.Op != FastOp.Alu || (AluOp)d.SubOp is not (AluOp.Adc or AluOp.Sbb))
                    => Emission.Arithmetic,
                FastOp.Alu when d.Form == OperandForm.RegMem && (AluOp)d.SubOp is not (AluOp.Adc or AluOp.Sbb) => Emission.ArithmeticWithMemory,
                FastOp.Cmp or FastOp.Test when d.Form is OperandForm.RegMem or OperandForm.MemReg or OperandForm.MemImm => Emission.ArithmeticWithMemory,
                FastOp.Movzx or FastOp.Movsx when d.Form == OperandForm.RegReg => Emission.ExtendRegister,
                FastOp.Movzx or FastOp.Movsx when d.Form == OperandForm.RegMem => Emission.ExtendFromMemory,
                FastOp.IncDec when d.Form == OperandForm.Reg => Emission.IncDecRegister,
                FastOp.Shift when d.Form == OperandForm.RegImm => Emission.ShiftRegisterByImmediate,
                FastOp.Generic when IsInlineMultiply(in d.Instruction, d.OperandSize) => Emission.Multiply,
                FastOp.JmpRel => Emission.Jump,
                FastOp.Jcc => Emission.ConditionalJump,
                _ => Emission.HelperCall,
            };

            /// <summary>Emits instruction <paramref name="k"/>; true if it ended the block (returned on every path).</summary>
            private bool EmitInstruction(int k)
            {
                ref DecodedInstruction d = ref _code[k];
                switch (EmissionOf(ref d))
                {
                    case Emission.Nothing:
                        return false;
                    case Emission.MoveRegister:
                        EmitOperand1(ref d);
                        _il.Emit(OpCodes.Stloc, _r);
                        EmitWriteRegister(d.Reg0, d.Reg0Width, _r);
                        return false;
                    case Emission.MoveThroughMemory:
                        EmitMoveThroughMemory(k, ref d);
                        return false;
                    case Emission.LoadEffectiveAddress:
                        EmitEffectiveAddress(ref d);
                        _il.Emit(OpCodes.Stloc, _r);
                        EmitWriteRegister(d.Reg0, d.Reg0Width, _r);
                        return false;
                    case Emission.Arithmetic:
                        EmitInlineArithmetic(k, ref d);
                        return false;
                    case Emission.ArithmeticWithMemory:
                        EmitArithmeticWithMemory(k, ref d);
                        return false;
                    case Emission.ExtendRegister:
                        EmitReadRegister(d.Reg1, d.Reg1Width);
                        EmitExtend(ref d);
                        return false;
                    case Emission.ExtendFromMemory:
                        EmitExtendFromMemory(k, ref d);
                        return false;
                    case Emission.IncDecRegister:
                        EmitIncDecRegister(k, ref d);
                        return false;
                    case Emission.ShiftRegisterByImmediate:
                        EmitShiftRegisterByImmediate(k, ref d);
                        return false;
                    case Emission.Multiply:
                        EmitMultiply(k, ref d);
                        return false;
                    case Emission.Jump:
                        EmitJumpTo(k, ref d);
                        return true;
                    case Emission.ConditionalJump:
                        EmitConditionalJump(k, ref d);
                        return k == _code.Length - 1;
                    default:
                        return EmitHelperCall(k, ref d);
                }
            }

            /// <summary>
            /// What the emitted code does to the flags. Only register-only forms that cannot fault leave them alone;
            /// Rotates read the lazy flags through the interpreter's helper, so they observe; INC/DEC keep CF.
            /// </summary>
            private static FlagEffect EffectOf(ref DecodedInstruction d) => EmissionOf(ref d) switch
            {
                Emission.Nothing or Emission.MoveRegister or Emission.LoadEffectiveAddress or Emission.ExtendRegister => FlagEffect.Untouched,
                Emission.Arithmetic => FlagEffect.InlineWriter,
                Emission.ShiftRegisterByImmediate when IsInlineShift(ref d) => FlagEffect.InlineWriter,
                Emission.ShiftRegisterByImmediate when IsInlineRotate(ref d) => FlagEffect.PartialWriter,
                Emission.Multiply => d.Instruction.Op1Kind == OpKind.Memory ? FlagEffect.MemoryWriter : FlagEffect.InlineWriter,
                Emission.IncDecRegister => FlagEffect.PartialWriter,
                Emission.ArithmeticWithMemory => FlagEffect.MemoryWriter,
                _ => FlagEffect.Observer,
            };

            /// <summary>SHL/SAL/SHR/SAR of a register by a constant that is not 0 after masking: computed inline, flags included.</summary>
            private static bool IsInlineShift(ref DecodedInstruction d)
                => (ShiftOp)d.SubOp is ShiftOp.Shl or ShiftOp.Sal or ShiftOp.Shr or ShiftOp.Sar && d.OperandSize <= 4
                   && ((int)d.Immediate & 0x1F) != 0;

            /// <summary>ROL/ROR of a register by a constant that is not 0 after masking: the value inline, CF and OF through a helper.</summary>
            private static bool IsInlineRotate(ref DecodedInstruction d)
                => (ShiftOp)d.SubOp is ShiftOp.Rol or ShiftOp.Ror && d.OperandSize <= 4 && ((int)d.Immediate & 0x1F) != 0;

            /// <summary>
            /// IMUL r16/32, r/m16/32 and IMUL r16/32, r/m16/32, imm (the truncating forms): the product fits a 64-bit
            /// multiply, so it is computed inline. The one-operand forms (EDX:EAX) stay with the interpreter's handler.
            /// </summary>
            private static bool IsInlineMultiply(in Instruction i, int size)
                => i.Mnemonic == Mnemonic.Imul && i.OpCount is 2 or 3 && size is 2 or 4
                   && i.Op0Kind == OpKind.Register && IsGeneralRegister(i.Op0Register)
                   && (i.Op1Kind == OpKind.Register ? IsGeneralRegister(i.Op1Register) : i.Op1Kind == OpKind.Memory && HasPlainMemoryOperand(in i))
                   && (i.OpCount == 2 || i.Op2Kind is OpKind.Immediate8to16 or OpKind.Immediate8to32 or OpKind.Immediate16 or OpKind.Immediate32);

            private static bool IsGeneralRegister(Register r)
            {
                byte slot = 0, width = 0;
                return SetRegister(ref slot, ref width, r);
            }

            /// <summary>Per instruction: must its flags be recorded? Not when an inline writer replaces them before anything can look.</summary>
            private static bool[] FlagsLiveness(DecodedInstruction[] code)
            {
                var record = new bool[code.Length];
                bool live = true; // the block's exit
                for (int k = code.Length - 1; k >= 0; k--)
                {
                    switch (EffectOf(ref code[k]))
                    {
                        case FlagEffect.InlineWriter:
                            record[k] = live;
                            live = false;
                            break;
                        case FlagEffect.Observer:
                            live = true;
                            break;
                        case FlagEffect.PartialWriter:
                            record[k] = live;
                            break;
                        case FlagEffect.MemoryWriter:
                            record[k] = true;
                            live = true;
                            break;
                    }
                }
                return record;
            }

            // ---- inline forms ----

            private void EmitInlineArithmetic(int k, ref DecodedInstruction d)
            {
                EmitReadRegister(d.Reg0, d.Reg0Width);
                _il.Emit(OpCodes.Stloc, _a);
                EmitOperand1(ref d);
                _il.Emit(OpCodes.Stloc, _b);
                EmitArithmeticOnOperands(k, ref d);
            }

            /// <summary>
            /// ALU/CMP/TEST with a memory operand, as FastAlu and FastCompare do it: the memory is read first through
            /// the specialised accessor (a fault leaves registers and flags as they were), then the same inline
            /// arithmetic as the register forms. CMP/TEST may have memory on either side; ALU only as the source.
            /// </summary>
            private void EmitArithmeticWithMemory(int k, ref DecodedInstruction d)
            {
                EmitReadMemory(ref d, d.OperandSize);
                if (d.Form == OperandForm.RegMem)
                {
                    _il.Emit(OpCodes.Stloc, _b);
                    EmitFaultCheck(k);
                    EmitReadRegister(d.Reg0, d.Reg0Width);
                    _il.Emit(OpCodes.Stloc, _a);
                }
                else
                {
                    _il.Emit(OpCodes.Stloc, _a);
                    EmitFaultCheck(k);
                    if (d.Form == OperandForm.MemReg)
                        EmitReadRegister(d.Reg1, d.Reg1Width);
                    else
                        _il.Emit(OpCodes.Ldc_I8, (long)d.Immediate);
                    _il.Emit(OpCodes.Stloc, _b);
                }
                EmitArithmeticOnOperands(k, ref d);
                EmitEventCheck(k);
            }

            /// <summary>MOVZX/MOVSX: the source (on the stack, any width) cut to its size and extended into the destination register.</summary>
            private void EmitExtend(ref DecodedInstruction d)
            {
                bool signed = d.Op == FastOp.Movsx;
                _il.Emit(d.SubOp == 1 ? (signed ? OpCodes.Conv_I1 : OpCodes.Conv_U1) : (signed ? OpCodes.Conv_I2 : OpCodes.Conv_U2));
                _il.Emit(signed ? OpCodes.Conv_I8 : OpCodes.Conv_U8);
                _il.Emit(OpCodes.Stloc, _r);
                EmitWriteRegister(d.Reg0, d.Reg0Width, _r);
            }

            /// <summary>MOVZX/MOVSX from memory: read at the source size through the specialised accessor, then extend.</summary>
            private void EmitExtendFromMemory(int k, ref DecodedInstruction d)
            {
                EmitReadMemory(ref d, d.SubOp);
                _il.Emit(OpCodes.Stloc, _b);
                EmitFaultCheck(k);
                _il.Emit(OpCodes.Ldloc, _b);
                EmitExtend(ref d);
                EmitEventCheck(k);
            }

            /// <summary>The arithmetic of an ALU/CMP/TEST on <c>a</c> and <c>b</c> (already loaded): result, destination register, flags.</summary>
            private void EmitArithmeticOnOperands(int k, ref DecodedInstruction d)
            {
                int size = d.OperandSize;
                LazyFlagsOp flags;
                _il.Emit(OpCodes.Ldloc, _a);
                _il.Emit(OpCodes.Ldloc, _b);
                if (d.Op == FastOp.Test)
                {
                    _il.Emit(OpCodes.And);
                    flags = LazyFlagsOp.Logic;
                }
                else if (d.Op == FastOp.Cmp)
                {
                    _il.Emit(OpCodes.Sub);
                    EmitMask(size);
                    flags = LazyFlagsOp.Sub;
                }
                else
                {
                    switch ((AluOp)d.SubOp)
                    {
                        case AluOp.Add: _il.Emit(OpCodes.Add); EmitMask(size); flags = LazyFlagsOp.Add; break;
                        case AluOp.Sub: _il.Emit(OpCodes.Sub); EmitMask(size); flags = LazyFlagsOp.Sub; break;
                        case AluOp.And: _il.Emit(OpCodes.And); flags = LazyFlagsOp.Logic; break;
                        case AluOp.Or: _il.Emit(OpCodes.Or); flags = LazyFlagsOp.Logic; break;
                        default: _il.Emit(OpCodes.Xor); flags = LazyFlagsOp.Logic; break;
                    }
                }
                _il.Emit(OpCodes.Stloc, _r);
                if (d.Op == FastOp.Alu)
                    EmitWriteRegister(d.Reg0, d.Reg0Width, _r);
                if (_recordFlags[k])
                    EmitRecordFlags(flags, size);
            }

            /// <summary>
            /// MOV to or from memory through the interpreter's segment-checked, TLB-backed accessors (which the JIT
            /// inlines here as it does in the interpreter), then the fault and event checks of any memory access.
            /// </summary>
            private void EmitMoveThroughMemory(int k, ref DecodedInstruction d)
            {
                if (d.Form == OperandForm.RegMem)
                {
                    EmitReadMemory(ref d, d.OperandSize);
                    _il.Emit(OpCodes.Stloc, _r);
                    EmitFaultCheck(k);
                    EmitWriteRegister(d.Reg0, d.Reg0Width, _r);
                }
                else
                {
                    DecodedInstruction source = d;
                    EmitWriteMemory(ref d, d.OperandSize, () =>
                    {
                        if (source.Form == OperandForm.MemReg)
                            EmitReadRegister(source.Reg1, source.Reg1Width);
                        else
                            _il.Emit(OpCodes.Ldc_I8, (long)source.Immediate);
                    });
                    EmitFaultCheck(k);
                }
                EmitEventCheck(k);
            }

            /// <summary>
            /// Pushes <paramref name="size"/> bytes read at the instruction's memory operand through the accessor the JIT
            /// specialises per segment and size (a fault is left for the caller's <see cref="EmitFaultCheck"/>).
            /// </summary>
            private void EmitReadMemory(ref DecodedInstruction d, int size)
            {
                MethodInfo accessor = s_readOf.MakeGenericMethod(BlockConstants.Segment(d.Segment), BlockConstants.Size(size));
                if (_flatSegments == 0)
                {
                    _il.Emit(OpCodes.Ldarg_0);
                    EmitEffectiveAddress(ref d);
                    _il.Emit(OpCodes.Call, accessor);
                    return;
                }
                Label slow = _il.DefineLabel(), done = _il.DefineLabel();
                EmitEffectiveAddress(ref d);
                _il.Emit(OpCodes.Stloc, _linear!);
                EmitTlbHit(size, _readTags!, slow);
                EmitHostAddress(_readPages!);
                _il.Emit(size switch { 1 => OpCodes.Ldind_U1, 2 => OpCodes.Ldind_U2, 4 => OpCodes.Ldind_U4, _ => OpCodes.Ldind_I8 });
                if (size != 8)
                    _il.Emit(OpCodes.Conv_U8);
                _il.Emit(OpCodes.Br, done);
                _il.MarkLabel(slow);
                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Ldloc, _linear!);
                _il.Emit(OpCodes.Call, accessor);
                _il.MarkLabel(done);
            }

            /// <summary>
            /// A store of <paramref name="size"/> bytes: the value on the stack (above nothing else), the address from
            /// the instruction's memory operand, straight to the TLB's page when flat, else through the accessor.
            /// </summary>
            private void EmitWriteMemory(ref DecodedInstruction d, int size, Action pushValue)
            {
                MethodInfo accessor = s_writeOf.MakeGenericMethod(BlockConstants.Segment(d.Segment), BlockConstants.Size(size));
                if (_flatSegments == 0)
                {
                    _il.Emit(OpCodes.Ldarg_0);
                    EmitEffectiveAddress(ref d);
                    pushValue();
                    _il.Emit(OpCodes.Call, accessor);
                    return;
                }
                Label slow = _il.DefineLabel(), done = _il.DefineLabel();
                EmitEffectiveAddress(ref d);
                _il.Emit(OpCodes.Stloc, _linear!);
                pushValue();
                _il.Emit(OpCodes.Stloc, _value!);
                EmitTlbHit(size, _writeTags!, slow);
                EmitHostAddress(_writePages!);
                _il.Emit(OpCodes.Ldloc, _value!);
                if (size != 8)
                    _il.Emit(OpCodes.Conv_U4); // the narrow stores take an int32
                _il.Emit(size switch { 1 => OpCodes.Stind_I1, 2 => OpCodes.Stind_I2, 4 => OpCodes.Stind_I4, _ => OpCodes.Stind_I8 });
                _il.Emit(OpCodes.Br, done);
                _il.MarkLabel(slow);
                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Ldloc, _linear!);
                _il.Emit(OpCodes.Ldloc, _value!);
                _il.Emit(OpCodes.Call, accessor);
                _il.MarkLabel(done);
            }

            /// <summary>
            /// At entry, for a block with inline accesses: whether its segments are flat (<see cref="BlockFlatMemory"/>),
            /// and the TLB's tables in locals. Nothing inside a block can change a segment, the CPL or those tables' identity.
            /// </summary>
            private void EmitFlatMemoryEntry()
            {
                _tagUser = _il.DeclareLocal(typeof(int));
                _linear = _il.DeclareLocal(typeof(ulong));
                _value = _il.DeclareLocal(typeof(ulong));
                _index = _il.DeclareLocal(typeof(int));
                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Ldc_I4, _flatSegments);
                _il.Emit(OpCodes.Call, s_flatMemory);
                _il.Emit(OpCodes.Stloc, _tagUser);
                _readTags = LoadTable(s_readTags, typeof(ulong[]));
                _readPages = LoadTable(s_readPages, typeof(nint[]));
                _writeTags = LoadTable(s_writeTags, typeof(ulong[]));
                _writePages = LoadTable(s_writePages, typeof(nint[]));
            }

            private LocalBuilder LoadTable(MethodInfo getter, Type type)
            {
                LocalBuilder table = _il.DeclareLocal(type);
                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Ldfld, s_tlb);
                _il.Emit(OpCodes.Call, getter);
                _il.Emit(OpCodes.Stloc, table);
                return table;
            }

            /// <summary>
            /// Falls through when the access at <c>_linear</c> may go straight to the page <paramref name="tags"/> holds
            /// for it (SoftwareTlb.LookupRead/LookupWrite's rule): segments flat at entry, the access within one page,
            /// and the tag of its page and user bit in the entry (left in <c>_index</c>); else branches to <paramref name="slow"/>.
            /// </summary>
            private void EmitTlbHit(int size, LocalBuilder tags, Label slow)
            {
                _il.Emit(OpCodes.Ldloc, _tagUser!);
                _il.Emit(OpCodes.Ldc_I4_0);
                _il.Emit(OpCodes.Blt, slow);
                _il.Emit(OpCodes.Ldloc, _linear!);
                _il.Emit(OpCodes.Ldc_I8, 0xFFFL);
                _il.Emit(OpCodes.And);
                _il.Emit(OpCodes.Ldc_I8, (long)(0x1000 - size));
                _il.Emit(OpCodes.Bgt_Un, slow);
                _il.Emit(OpCodes.Ldloc, _linear!);
                _il.Emit(OpCodes.Ldc_I4, 12);
                _il.Emit(OpCodes.Shr_Un);
                _il.Emit(OpCodes.Conv_I4);
                _il.Emit(OpCodes.Ldc_I4, SoftwareTlb.IndexMask);
                _il.Emit(OpCodes.And);
                _il.Emit(OpCodes.Stloc, _index!);
                _il.Emit(OpCodes.Ldloc, tags);
                _il.Emit(OpCodes.Ldloc, _index!);
                _il.Emit(OpCodes.Ldelem_I8);
                // SoftwareTlb.Tag: the page number shifted left once, the user bit below it.
                _il.Emit(OpCodes.Ldloc, _linear!);
                _il.Emit(OpCodes.Ldc_I4, 12);
                _il.Emit(OpCodes.Shr_Un);
                _il.Emit(OpCodes.Ldc_I4_1);
                _il.Emit(OpCodes.Shl);
                _il.Emit(OpCodes.Ldloc, _tagUser!);
                _il.Emit(OpCodes.Conv_U8);
                _il.Emit(OpCodes.Or);
                _il.Emit(OpCodes.Bne_Un, slow);
            }

            /// <summary>Pushes the host address of <c>_linear</c> in the page entry <c>_index</c> of <paramref name="pages"/> names.</summary>
            private void EmitHostAddress(LocalBuilder pages)
            {
                _il.Emit(OpCodes.Ldloc, pages);
                _il.Emit(OpCodes.Ldloc, _index!);
                _il.Emit(OpCodes.Ldelem_I);
                _il.Emit(OpCodes.Ldloc, _linear!);
                _il.Emit(OpCodes.Ldc_I8, 0xFFFL);
                _il.Emit(OpCodes.And);
                _il.Emit(OpCodes.Conv_I);
                _il.Emit(OpCodes.Add);
            }

            private void EmitFaultCheck(int k)
            {
                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Ldfld, s_faultVector);
                _il.Emit(OpCodes.Ldc_I4_0);
                _il.Emit(OpCodes.Bge, FaultExit(k));
            }

            /// <summary>Leaves after instruction <paramref name="k"/> when something asynchronous, or a write to code, wants attention.</summary>
            private void EmitEventCheck(int k)
            {
                Label exit = _il.DefineLabel();
                _eventExits.Add((exit, k));
                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Volatile);
                _il.Emit(OpCodes.Ldfld, s_eventsPending);
                _il.Emit(OpCodes.Brtrue, exit);
            }

            /// <summary>INC/DEC of a register: CF survives, so the interpreter's SetIncDecFlags records the rest.</summary>
            private void EmitIncDecRegister(int k, ref DecodedInstruction d)
            {
                bool increment = d.SubOp != 0;
                EmitReadRegister(d.Reg0, d.Reg0Width);
                _il.Emit(OpCodes.Stloc, _a);
                _il.Emit(OpCodes.Ldloc, _a);
                _il.Emit(OpCodes.Ldc_I8, 1L);
                _il.Emit(increment ? OpCodes.Add : OpCodes.Sub);
                EmitMask(d.OperandSize);
                _il.Emit(OpCodes.Stloc, _r);
                EmitWriteRegister(d.Reg0, d.Reg0Width, _r);
                if (!_recordFlags[k])
                    return;
                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Ldc_I4, (int)(increment ? LazyFlagsOp.Inc : LazyFlagsOp.Dec));
                _il.Emit(OpCodes.Ldc_I4, (int)d.OperandSize);
                _il.Emit(OpCodes.Ldloc, _r);
                _il.Emit(OpCodes.Ldloc, _a);
                _il.Emit(OpCodes.Call, s_setIncDecFlags);
            }

            /// <summary>A register shifted or rotated by a constant: a masked count of 0 changes nothing, as in FastShift.</summary>
            private void EmitShiftRegisterByImmediate(int k, ref DecodedInstruction d)
            {
                int size = d.OperandSize;
                int count = (int)d.Immediate & (size == 8 ? 0x3F : 0x1F);
                if (count == 0)
                    return;
                if (IsInlineShift(ref d))
                {
                    EmitInlineShift(k, ref d, count);
                    return;
                }
                if (IsInlineRotate(ref d))
                {
                    EmitInlineRotate(k, ref d, count);
                    return;
                }
                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Ldc_I4, (int)d.SubOp);
                _il.Emit(OpCodes.Ldc_I4, size);
                EmitReadRegister(d.Reg0, d.Reg0Width);
                _il.Emit(OpCodes.Ldc_I4, count);
                _il.Emit(OpCodes.Call, s_shiftCore);
                _il.Emit(OpCodes.Stloc, _r);
                EmitWriteRegister(d.Reg0, d.Reg0Width, _r);
            }

            /// <summary>
            /// SHL/SAL, SHR and SAR by a constant (1-31) of a value of at most 32 bits, as ShiftCore computes them: in 64
            /// bits nothing shifted out is lost, so CF is one bit of the widened value. The flags, when someone can
            /// look, go where SetResultFlags puts them: CF and OF (AF cleared) in EFLAGS, the rest lazy from the result.
            /// </summary>
            private void EmitInlineShift(int k, ref DecodedInstruction d, int count)
            {
                int size = d.OperandSize, bits = size * 8;
                ShiftOp op = (ShiftOp)d.SubOp;
                // a: the value widened (zero-extended; sign-extended for SAR); r: the result cut to the size.
                EmitReadRegister(d.Reg0, d.Reg0Width);
                _il.Emit(OpCodes.Stloc, _a);
                if (op == ShiftOp.Sar)
                {
                    EmitSigned(_a, size);
                    _il.Emit(OpCodes.Stloc, _a);
                }
                _il.Emit(OpCodes.Ldloc, _a);
                _il.Emit(OpCodes.Ldc_I4, count);
                _il.Emit(op switch { ShiftOp.Shr => OpCodes.Shr_Un, ShiftOp.Sar => OpCodes.Shr, _ => OpCodes.Shl });
                if (op is ShiftOp.Shl or ShiftOp.Sal)
                {
                    _il.Emit(OpCodes.Stloc, _b); // the widened result, bit `bits` is CF
                    _il.Emit(OpCodes.Ldloc, _b);
                }
                if (!EmitResultToRegister(k, ref d))
                    return;

                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Ldflda, s_state);
                _il.Emit(OpCodes.Dup);
                _il.Emit(OpCodes.Ldfld, s_eflags);
                _il.Emit(OpCodes.Ldc_I4, unchecked((int)~(EflagsBits.CF | EflagsBits.OF | EflagsBits.AF)));
                _il.Emit(OpCodes.And);
                EmitShiftCarry(op, bits, count);
                _il.Emit(OpCodes.Or);
                if (op != ShiftOp.Sar) // SAR clears OF
                {
                    // SHL: top bit of the result XOR CF; SHR: XOR of the result's two top bits.
                    EmitBitOf(_r, bits - 1);
                    if (op == ShiftOp.Shr)
                        EmitBitOf(_r, bits - 2);
                    else
                        EmitShiftCarry(op, bits, count);
                    _il.Emit(OpCodes.Xor);
                    _il.Emit(OpCodes.Ldc_I4, 11); // OF's bit
                    _il.Emit(OpCodes.Shl);
                    _il.Emit(OpCodes.Or);
                }
                _il.Emit(OpCodes.Stfld, s_eflags);
                EmitRecordFlags(LazyFlagsOp.ResultOnly, size);
            }

            /// <summary>
            /// ROL/ROR by a constant as ShiftCore computes them (the count taken modulo the size; a multiple of it leaves
            /// the value but still sets CF and OF). Only CF and OF change, so their record is the interpreter's own
            /// SetCarryAndOverflowOnly, called when someone can look.
            /// </summary>
            private void EmitInlineRotate(int k, ref DecodedInstruction d, int count)
            {
                int size = d.OperandSize, bits = size * 8;
                int n = count & (bits - 1);
                bool left = (ShiftOp)d.SubOp == ShiftOp.Rol;
                EmitReadRegister(d.Reg0, d.Reg0Width);
                if (n != 0)
                {
                    _il.Emit(OpCodes.Stloc, _a);
                    _il.Emit(OpCodes.Ldloc, _a);
                    _il.Emit(OpCodes.Ldc_I4, left ? n : bits - n);
                    _il.Emit(OpCodes.Shl);
                    _il.Emit(OpCodes.Ldloc, _a);
                    _il.Emit(OpCodes.Ldc_I4, left ? bits - n : n);
                    _il.Emit(OpCodes.Shr_Un);
                    _il.Emit(OpCodes.Or);
                }
                if (!EmitResultToRegister(k, ref d))
                    return;
                // ROL: CF = bit 0, OF = top bit XOR CF. ROR: CF = top bit, OF = XOR of the two top bits.
                _il.Emit(OpCodes.Ldarg_0);
                EmitBitOf(_r, left ? 0 : bits - 1);
                EmitBitOf(_r, bits - 1);
                if (left)
                    EmitBitOf(_r, 0);
                else
                    EmitBitOf(_r, bits - 2);
                _il.Emit(OpCodes.Xor);
                _il.Emit(OpCodes.Call, s_rotateFlags);
            }

            /// <summary>
            /// The value on the stack cut to the operand size into <c>r</c> and written to the destination register;
            /// true if the instruction's flags must be recorded (someone can look at them).
            /// </summary>
            private bool EmitResultToRegister(int k, ref DecodedInstruction d)
            {
                EmitMask(d.OperandSize);
                _il.Emit(OpCodes.Stloc, _r);
                EmitWriteRegister(d.Reg0, d.Reg0Width, _r);
                return _recordFlags[k];
            }

            /// <summary>Pushes bit <paramref name="bit"/> of <paramref name="value"/> as an int32 0 or 1.</summary>
            private void EmitBitOf(LocalBuilder value, int bit)
            {
                _il.Emit(OpCodes.Ldloc, value);
                _il.Emit(OpCodes.Ldc_I4, bit);
                _il.Emit(OpCodes.Shr_Un);
                _il.Emit(OpCodes.Conv_U4);
                _il.Emit(OpCodes.Ldc_I4_1);
                _il.Emit(OpCodes.And);
            }

            /// <summary>
            /// Pushes CF (0 or 1, int32) of an inline shift: the last bit shifted out, bit <c>bits</c> of SHL's widened
            /// result, or bit count - 1 of the (for SAR sign-extended) value, which no sign bit reaches for counts up to 31.
            /// </summary>
            private void EmitShiftCarry(ShiftOp op, int bits, int count)
            {
                if (op is ShiftOp.Shl or ShiftOp.Sal)
                    EmitBitOf(_b, bits);
                else
                    EmitBitOf(_a, count - 1);
            }

            /// <summary>
            /// IMUL's truncating forms: both factors sign-extended to 64 bits, whose product cannot overflow; CF = OF =
            /// the product does not fit the destination's size (SetResultFlags, through a helper, when someone can look).
            /// </summary>
            private void EmitMultiply(int k, ref DecodedInstruction d)
            {
                ref Instruction i = ref d.Instruction;
                int size = d.OperandSize;
                bool fromMemory = i.Op1Kind == OpKind.Memory;
                // b: the r/m factor; a: the destination register (two operands) or the immediate (three).
                if (fromMemory)
                {
                    EmitReadMemory(ref d, size);
                    _il.Emit(OpCodes.Stloc, _b);
                    EmitFaultCheck(k);
                }
                else
                {
                    (byte slot, byte width) = RegisterOperand(i.Op1Register);
                    EmitReadRegister(slot, width);
                    _il.Emit(OpCodes.Stloc, _b);
                }
                (byte destination, byte destinationWidth) = RegisterOperand(i.Op0Register);
                if (i.OpCount == 3)
                    _il.Emit(OpCodes.Ldc_I8, (long)(i.GetImmediate(2) & SizeMask(size)));
                else
                    EmitReadRegister(destination, destinationWidth);
                _il.Emit(OpCodes.Stloc, _a);

                LocalBuilder product = _product ??= _il.DeclareLocal(typeof(long));
                EmitSigned(_a, size);
                EmitSigned(_b, size);
                _il.Emit(OpCodes.Mul);
                _il.Emit(OpCodes.Stloc, product);
                _il.Emit(OpCodes.Ldloc, product);
                EmitMask(size);
                _il.Emit(OpCodes.Stloc, _r);
                EmitWriteRegister(destination, destinationWidth, _r);
                if (_recordFlags[k])
                {
                    _il.Emit(OpCodes.Ldarg_0);
                    _il.Emit(OpCodes.Ldc_I4, size);
                    _il.Emit(OpCodes.Ldloc, _r);
                    _il.Emit(OpCodes.Ldloc, product);
                    EmitSigned(_r, size);
                    _il.Emit(OpCodes.Ceq);
                    _il.Emit(OpCodes.Ldc_I4_0);
                    _il.Emit(OpCodes.Ceq);
                    _il.Emit(OpCodes.Call, s_multiplyFlags);
                }
                if (fromMemory)
                    EmitEventCheck(k);
            }

            private static (byte Slot, byte Width) RegisterOperand(Register r)
            {
                byte slot = 0, width = 0;
                if (!SetRegister(ref slot, ref width, r))
                    throw new InvalidOperationException($"{r} is not a general-purpose register");
                return (slot, width);
            }

            private void EmitRecordFlags(LazyFlagsOp op, int size)
            {
                EmitStoreCpuField(s_flagsOp, () => _il.Emit(OpCodes.Ldc_I4, (int)op));
                EmitStoreCpuField(s_flagsSignBit, () => _il.Emit(OpCodes.Ldc_I4, size * 8 - 1));
                EmitStoreCpuField(s_flagsResult, () => _il.Emit(OpCodes.Ldloc, _r));
                // Logic and result-only records have zeros for a and b, as the interpreter's.
                if (op is LazyFlagsOp.Logic or LazyFlagsOp.ResultOnly)
                {
                    EmitStoreCpuField(s_flagsA, () => _il.Emit(OpCodes.Ldc_I8, 0L));
                    EmitStoreCpuField(s_flagsB, () => _il.Emit(OpCodes.Ldc_I8, 0L));
                }
                else
                {
                    EmitStoreCpuField(s_flagsA, () => _il.Emit(OpCodes.Ldloc, _a));
                    EmitStoreCpuField(s_flagsB, () => _il.Emit(OpCodes.Ldloc, _b));
                }
            }

            private void EmitJumpTo(int k, ref DecodedInstruction d)
            {
                if (_offsets[k] + d.Length + d.BranchDisplacement == 0)
                {
                    EmitLoopToStart(k);
                    return;
                }
                // BlockJump checks the CS limit (#GP at this instruction) and sets EIP.
                _il.Emit(OpCodes.Ldarg_0);
                EmitIp(_offsets[k] + d.Length + d.BranchDisplacement);
                _il.Emit(OpCodes.Ldc_I8, (long)d.Immediate);
                _il.Emit(OpCodes.And);
                _il.Emit(OpCodes.Call, s_blockJump);
                _il.Emit(OpCodes.Brfalse, FaultExit(k));
                EmitReturn(k + 1);
            }

            /// <summary>
            /// A branch back to the block's own start (a tight loop) stays in the compiled code while the budget holds
            /// another pass and nothing asynchronous is pending; the target passed the CS limit check at entry.
            /// </summary>
            private void EmitLoopToStart(int k)
            {
                Label leave = _il.DefineLabel();
                _il.Emit(OpCodes.Ldloc, _retired);
                _il.Emit(OpCodes.Ldc_I4, k + 1);
                _il.Emit(OpCodes.Add);
                _il.Emit(OpCodes.Stloc, _retired);
                _il.Emit(OpCodes.Ldloc, _retired);
                _il.Emit(OpCodes.Ldc_I4, _code.Length);
                _il.Emit(OpCodes.Add);
                _il.Emit(OpCodes.Ldarg_3);
                _il.Emit(OpCodes.Bgt, leave);
                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Volatile);
                _il.Emit(OpCodes.Ldfld, s_eventsPending);
                _il.Emit(OpCodes.Brfalse, _start);
                _il.MarkLabel(leave);
                EmitSetRip(0);
                EmitReturn(0);
            }

            private void EmitConditionalJump(int k, ref DecodedInstruction d)
            {
                Label notTaken = _il.DefineLabel();
                EmitCondition(k, d.SubOp);
                _il.Emit(OpCodes.Brfalse, notTaken);
                EmitJumpTo(k, ref d);
                _il.MarkLabel(notTaken);
                if (k < _code.Length - 1)
                    return; // a side exit: not taken, the block goes on
                EmitSetRip(_offsets[k] + d.Length);
                EmitReturn(k + 1);
            }

            /// <summary>Pushes condition <paramref name="cc"/> (0/1); from the previous instruction's operands when it was an inline writer.</summary>
            private void EmitCondition(int k, int cc)
            {
                if (k > 0 && EffectOf(ref _code[k - 1]) is FlagEffect.InlineWriter or FlagEffect.MemoryWriter && TryEmitFusedCondition(ref _code[k - 1], cc >> 1))
                {
                    if ((cc & 1) != 0)
                    {
                        _il.Emit(OpCodes.Ldc_I4_0);
                        _il.Emit(OpCodes.Ceq);
                    }
                    return;
                }
                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Ldc_I4, cc);
                _il.Emit(OpCodes.Call, s_condition);
            }

            /// <summary>The un-negated condition (cc / 2) from a, b and r of an inline writer; false where only the flags know.</summary>
            private bool TryEmitFusedCondition(ref DecodedInstruction producer, int condition)
            {
                int size = producer.OperandSize;
                bool logic = producer.Op == FastOp.Test || (producer.Op == FastOp.Alu && (AluOp)producer.SubOp is AluOp.And or AluOp.Or or AluOp.Xor);
                bool subtract = producer.Op == FastOp.Cmp || (producer.Op == FastOp.Alu && (AluOp)producer.SubOp == AluOp.Sub);
                switch (condition)
                {
                    case 2: // ZF
                        EmitZero(_r);
                        return true;
                    case 4: // SF
                        EmitSign(_r, size);
                        return true;
                    case 1 when subtract: // CF: a < b unsigned
                        _il.Emit(OpCodes.Ldloc, _a);
                        _il.Emit(OpCodes.Ldloc, _b);
                        _il.Emit(OpCodes.Clt_Un);
                        return true;
                    case 3 when subtract: // CF | ZF: a <= b unsigned
                        _il.Emit(OpCodes.Ldloc, _a);
                        _il.Emit(OpCodes.Ldloc, _b);
                        _il.Emit(OpCodes.Cgt_Un);
                        _il.Emit(OpCodes.Ldc_I4_0);
                        _il.Emit(OpCodes.Ceq);
                        return true;
                    case 6 when subtract: // SF != OF: a < b signed
                        EmitSigned(_a, size);
                        EmitSigned(_b, size);
                        _il.Emit(OpCodes.Clt);
                        return true;
                    case 7 when subtract: // ZF | SF != OF: a <= b signed
                        EmitSigned(_a, size);
                        EmitSigned(_b, size);
                        _il.Emit(OpCodes.Cgt);
                        _il.Emit(OpCodes.Ldc_I4_0);
                        _il.Emit(OpCodes.Ceq);
                        return true;
                    case 0 or 1 when logic: // OF, CF are 0
                        _il.Emit(OpCodes.Ldc_I4_0);
                        return true;
                    case 3 when logic: // CF | ZF = ZF
                        EmitZero(_r);
                        return true;
                    case 6 when logic: // SF != OF = SF
                        EmitSign(_r, size);
                        return true;
                    case 7 when logic: // ZF | SF
                        EmitZero(_r);
                        EmitSign(_r, size);
                        _il.Emit(OpCodes.Or);
                        return true;
                    default:
                        return false;
                }
            }

            // ---- helper calls: the interpreter's handlers ----

            private bool EmitHelperCall(int k, ref DecodedInstruction d)
            {
                bool endsBlock = RoleInBlock(ref d) == BlockRole.EndsBlock;
                ulong ipOffset = (ulong)_offsets[k];
                _il.Emit(OpCodes.Ldarg_0);
                EmitIp((long)ipOffset);
                _il.Emit(OpCodes.Stfld, s_instructionIp);
                _il.Emit(OpCodes.Ldarg_0);
                EmitIp((long)ipOffset + d.Length);
                _il.Emit(OpCodes.Stfld, s_nextIp);
                if (d.Op == FastOp.Generic)
                    EmitSetRip((long)ipOffset); // as in the interpreter, EIP is the instruction's own while it runs

                _il.Emit(OpCodes.Ldarg_0);
                if (d.Op == FastOp.PushReg)
                {
                    EmitReadRegister(d.Reg0, d.Reg0Width);
                    _il.Emit(OpCodes.Ldc_I4, (int)d.OperandSize);
                    _il.Emit(OpCodes.Call, s_push);
                }
                else
                {
                    _il.Emit(OpCodes.Ldarg_1);
                    _il.Emit(OpCodes.Ldc_I4, k);
                    _il.Emit(OpCodes.Ldelema, typeof(DecodedInstruction));
                    switch (d.Op)
                    {
                        case FastOp.Alu: _il.Emit(OpCodes.Call, s_fastAlu); break;
                        case FastOp.Cmp: _il.Emit(OpCodes.Ldc_I4_0); _il.Emit(OpCodes.Call, s_fastCompare); break;
                        case FastOp.Test: _il.Emit(OpCodes.Ldc_I4_1); _il.Emit(OpCodes.Call, s_fastCompare); break;
                        case FastOp.Mov: _il.Emit(OpCodes.Call, s_fastMov); break;
                        case FastOp.Movzx: _il.Emit(OpCodes.Ldc_I4_0); _il.Emit(OpCodes.Call, s_fastMovExtend); break;
                        case FastOp.Movsx: _il.Emit(OpCodes.Ldc_I4_1); _il.Emit(OpCodes.Call, s_fastMovExtend); break;
                        case FastOp.IncDec: _il.Emit(OpCodes.Call, s_fastIncDec); break;
                        case FastOp.PopReg: _il.Emit(OpCodes.Call, s_fastPop); break;
                        case FastOp.CallRel: _il.Emit(OpCodes.Call, s_fastCall); break;
                        case FastOp.RetNear: _il.Emit(OpCodes.Call, s_fastRet); break;
                        case FastOp.Shift: _il.Emit(OpCodes.Call, s_fastShift); break;
                        case FastOp.Locked: _il.Emit(OpCodes.Call, s_executeLocked); break; // atomic, never the plain RMW
                        default: _il.Emit(OpCodes.Call, s_executeGeneric); break; // Lea of other widths too
                    }
                }

                EmitFaultCheck(k);
                if (endsBlock)
                {
                    _il.Emit(OpCodes.Ldarg_0);
                    _il.Emit(OpCodes.Ldflda, s_state);
                    _il.Emit(OpCodes.Ldarg_0);
                    _il.Emit(OpCodes.Ldfld, s_nextIp);
                    _il.Emit(OpCodes.Stfld, s_rip);
                    EmitReturn(k + 1);
                    return true;
                }
                EmitEventCheck(k);
                return false;
            }

            // ---- building blocks ----

            private Label FaultExit(int k)
            {
                Label label = _il.DefineLabel();
                _faultExits.Add((label, k));
                return label;
            }

            /// <summary>
            /// Pushes (entryIp + offset) masked to the code size, as the interpreter masks its next IP: the entry check
            /// keeps the block's bytes under the CS limit, but the IP after its last byte may wrap (IP FFFF + 1 is 0).
            /// </summary>
            private void EmitIp(long offset)
            {
                _il.Emit(OpCodes.Ldarg_2);
                _il.Emit(OpCodes.Ldc_I8, offset);
                _il.Emit(OpCodes.Add);
                _il.Emit(OpCodes.Ldc_I8, _ipMask);
                _il.Emit(OpCodes.And);
            }

            private void EmitSetRip(long offset)
            {
                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Ldflda, s_state);
                EmitIp(offset);
                _il.Emit(OpCodes.Stfld, s_rip);
            }

            /// <summary>Returns the instructions retired: earlier passes of a self-loop plus <paramref name="retired"/> of this one.</summary>
            private void EmitReturn(int retired)
            {
                _il.Emit(OpCodes.Ldloc, _retired);
                _il.Emit(OpCodes.Ldc_I4, retired);
                _il.Emit(OpCodes.Add);
                _il.Emit(OpCodes.Ret);
            }

            private void EmitStoreCpuField(FieldInfo field, Action value)
            {
                _il.Emit(OpCodes.Ldarg_0);
                value();
                _il.Emit(OpCodes.Stfld, field);
            }

            private void EmitRegisterAddress(byte slot)
            {
                _il.Emit(OpCodes.Ldloc, _gpr);
                if (slot != 0)
                {
                    _il.Emit(OpCodes.Ldc_I4, slot * sizeof(ulong));
                    _il.Emit(OpCodes.Conv_I);
                    _il.Emit(OpCodes.Add);
                }
            }

            /// <summary>Pushes the register's value, zero-extended to 64 bits (GetReg).</summary>
            private void EmitReadRegister(byte slot, byte width)
            {
                EmitRegisterAddress(slot);
                _il.Emit(OpCodes.Ldind_I8);
                switch ((RegisterWidth)width)
                {
                    case RegisterWidth.Low8: _il.Emit(OpCodes.Conv_U1); _il.Emit(OpCodes.Conv_U8); break;
                    case RegisterWidth.High8: _il.Emit(OpCodes.Ldc_I4_8); _il.Emit(OpCodes.Shr_Un); _il.Emit(OpCodes.Conv_U1); _il.Emit(OpCodes.Conv_U8); break;
                    case RegisterWidth.Bits16: _il.Emit(OpCodes.Conv_U2); _il.Emit(OpCodes.Conv_U8); break;
                    case RegisterWidth.Bits32: _il.Emit(OpCodes.Conv_U4); _il.Emit(OpCodes.Conv_U8); break;
                }
            }

            /// <summary>Writes <paramref name="value"/> to the register as SetReg does (32-bit writes clear the upper half).</summary>
            private void EmitWriteRegister(byte slot, byte width, LocalBuilder value)
            {
                EmitRegisterAddress(slot);
                switch ((RegisterWidth)width)
                {
                    case RegisterWidth.Bits32:
                        _il.Emit(OpCodes.Ldloc, value);
                        _il.Emit(OpCodes.Conv_U4);
                        _il.Emit(OpCodes.Conv_U8);
                        break;
                    case RegisterWidth.Bits64:
                        _il.Emit(OpCodes.Ldloc, value);
                        break;
                    default:
                    {
                        (long keep, int shift, OpCode narrow) = (RegisterWidth)width switch
                        {
                            RegisterWidth.Low8 => (~0xFFL, 0, OpCodes.Conv_U1),
                            RegisterWidth.High8 => (~0xFF00L, 8, OpCodes.Conv_U1),
                            _ => (~0xFFFFL, 0, OpCodes.Conv_U2),
                        };
                        EmitRegisterAddress(slot);
                        _il.Emit(OpCodes.Ldind_I8);
                        _il.Emit(OpCodes.Ldc_I8, keep);
                        _il.Emit(OpCodes.And);
                        _il.Emit(OpCodes.Ldloc, value);
                        _il.Emit(narrow);
                        _il.Emit(OpCodes.Conv_U8);
                        if (shift != 0)
                        {
                            _il.Emit(OpCodes.Ldc_I4, shift);
                            _il.Emit(OpCodes.Shl);
                        }
                        _il.Emit(OpCodes.Or);
                        break;
                    }
                }
                _il.Emit(OpCodes.Stind_I8);
            }

            /// <summary>Pushes the second operand of a RegReg or RegImm form.</summary>
            private void EmitOperand1(ref DecodedInstruction d)
            {
                if (d.Form == OperandForm.RegReg)
                    EmitReadRegister(d.Reg1, d.Reg1Width);
                else
                    _il.Emit(OpCodes.Ldc_I8, (long)d.Immediate);
            }

            /// <summary>FastEffectiveAddress: displacement + base + (index &lt;&lt; scale), masked to the address size.</summary>
            private void EmitEffectiveAddress(ref DecodedInstruction d)
            {
                _il.Emit(OpCodes.Ldc_I8, (long)d.Displacement);
                if (d.Base != DecodedInstruction.NoRegister)
                {
                    EmitRegisterAddress(d.Base);
                    _il.Emit(OpCodes.Ldind_I8);
                    _il.Emit(OpCodes.Add);
                }
                if (d.Index != DecodedInstruction.NoRegister)
                {
                    EmitRegisterAddress(d.Index);
                    _il.Emit(OpCodes.Ldind_I8);
                    if (d.ScaleShift != 0)
                    {
                        _il.Emit(OpCodes.Ldc_I4, (int)d.ScaleShift);
                        _il.Emit(OpCodes.Shl);
                    }
                    _il.Emit(OpCodes.Add);
                }
                _il.Emit(OpCodes.Ldc_I8, (long)d.AddressMask);
                _il.Emit(OpCodes.And);
            }

            private void EmitMask(int size)
            {
                if (size == 8)
                    return;
                _il.Emit(OpCodes.Ldc_I8, (long)SizeMask(size));
                _il.Emit(OpCodes.And);
            }

            private void EmitZero(LocalBuilder value)
            {
                _il.Emit(OpCodes.Ldloc, value);
                _il.Emit(OpCodes.Ldc_I8, 0L);
                _il.Emit(OpCodes.Ceq);
            }

            private void EmitSign(LocalBuilder value, int size)
            {
                _il.Emit(OpCodes.Ldloc, value);
                _il.Emit(OpCodes.Ldc_I4, size * 8 - 1);
                _il.Emit(OpCodes.Shr_Un);
                _il.Emit(OpCodes.Conv_I4);
                _il.Emit(OpCodes.Ldc_I4_1);
                _il.Emit(OpCodes.And);
            }

            /// <summary>Pushes the value sign-extended from the operand size to 64 bits.</summary>
            private void EmitSigned(LocalBuilder value, int size)
            {
                _il.Emit(OpCodes.Ldloc, value);
                switch (size)
                {
                    case 1: _il.Emit(OpCodes.Conv_I1); _il.Emit(OpCodes.Conv_I8); break;
                    case 2: _il.Emit(OpCodes.Conv_I2); _il.Emit(OpCodes.Conv_I8); break;
                    case 4: _il.Emit(OpCodes.Conv_I4); _il.Emit(OpCodes.Conv_I8); break;
                }
            }
        }
    }

    /// <summary>A translated near jump: the CS limit check of <see cref="NearJump"/>, then EIP.</summary>
    private bool BlockJump(ulong target)
    {
        if (target > _state.Segments[SegmentIndex.CS].Limit)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return false;
        }
        _state.Rip = target;
        return true;
    }
}
