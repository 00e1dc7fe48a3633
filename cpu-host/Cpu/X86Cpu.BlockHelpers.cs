using System.Runtime.CompilerServices;

namespace SplitEmu.CpuHost.Cpu;

// What translated blocks call: the interpreter's handlers behind one call each. They are kept out of line on purpose:
// inlined into every block, the handlers (themselves built from inlined segment checks and TLB lookups) made each
// block's JIT compile take milliseconds, which on a real guest cost more than the translation saved.
public sealed partial class X86Cpu
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockAlu(ref DecodedInstruction d) => FastAlu(ref d);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockCompare(ref DecodedInstruction d, bool test) => FastCompare(ref d, test);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockMov(ref DecodedInstruction d) => FastMov(ref d);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockMovExtend(ref DecodedInstruction d, bool signExtend) => FastMovExtend(ref d, signExtend);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockIncDec(ref DecodedInstruction d) => FastIncDec(ref d);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockPop(ref DecodedInstruction d) => FastPop(ref d);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockCall(ref DecodedInstruction d) => FastCall(ref d);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockRet(ref DecodedInstruction d) => FastRet(ref d);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockShift(ref DecodedInstruction d) => FastShift(ref d);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockGeneric(ref DecodedInstruction d) => ExecuteGeneric(ref d);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockPush(ulong value, int size) => Push(value, size);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong BlockRead(int segment, ulong offset, int size) => ReadSegment(segment, offset, size);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockWrite(int segment, ulong offset, int size, ulong value) => WriteSegment(segment, offset, size, value);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong BlockShiftValue(int op, int size, ulong value, int count) => ShiftCore((ShiftOp)op, size, value, count);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockIncDecFlags(int op, int size, ulong result, ulong a) => SetIncDecFlags((LazyFlagsOp)op, size, result, a);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool BlockCondition(int cc) => Condition(cc);
}
