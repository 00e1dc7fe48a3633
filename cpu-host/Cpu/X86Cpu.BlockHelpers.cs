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
    private void BlockLocked(ref DecodedInstruction d) => ExecuteLocked(ref d);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockPush(ulong value, int size) => Push(value, size);

    /// <summary>
    /// A MOV load's accessor, specialised by the JIT for one segment and size (the constants fold into the segment
    /// check and the TLB access, as they do in the interpreter's inlined paths) and compiled once for all blocks.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong BlockReadOf<TSegment, TSize>(ulong offset)
        where TSegment : struct, IBlockConstant
        where TSize : struct, IBlockConstant
        => ReadSegment(TSegment.Value, offset, TSize.Value);

    /// <summary>A MOV store's accessor, specialised like <see cref="BlockReadOf{TSegment, TSize}"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockWriteOf<TSegment, TSize>(ulong offset, ulong value)
        where TSegment : struct, IBlockConstant
        where TSize : struct, IBlockConstant
        => WriteSegment(TSegment.Value, offset, TSize.Value, value);

    /// <summary>
    /// At a block's entry: whether every segment in <paramref name="segments"/> (a bit per segment register) is flat, so
    /// <see cref="CheckSegmentAccess"/> passes any access whose linear address is its offset: base 0, a 4 GiB limit, a
    /// present writable expand-up data segment. Then the TLB tag's user bit (0 or 1, the CPL cannot change inside a
    /// block), else -1 and the block's accesses take the accessors.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int BlockFlatMemory(int segments)
    {
        // Runs at every entry of such a block: only the segments it names are looked at.
        for (int rest = segments; rest != 0; rest &= rest - 1)
        {
            ref SegmentRegister s = ref _state.Segments[System.Numerics.BitOperations.TrailingZeroCount(rest)];
            if (s.Base != 0 || s.Limit != 0xFFFF_FFFF || (s.Attributes & FastCheckedAttributes) != WritableDataAttributes)
                return -1;
        }
        return _state.Cpl == 3 ? 1 : 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong BlockShiftValue(int op, int size, ulong value, int count) => ShiftCore((ShiftOp)op, size, value, count);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockIncDecFlags(int op, int size, ulong result, ulong a) => SetIncDecFlags((LazyFlagsOp)op, size, result, a);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool BlockCondition(int cc) => Condition(cc);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockMultiplyFlags(int size, ulong result, bool overflow) => SetResultFlags(size, result, overflow, overflow);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockRotateFlags(bool carry, bool overflow) => SetCarryAndOverflowOnly(carry, overflow);
}

/// <summary>A compile-time constant carried by a type, so a generic helper is specialised for it by the JIT.</summary>
internal interface IBlockConstant
{
    static abstract int Value { get; }
}

/// <summary>Segment register and access-size constants for <c>X86Cpu.BlockReadOf</c> and <c>BlockWriteOf</c>.</summary>
internal static class BlockConstants
{
    public struct Es : IBlockConstant { public static int Value => SegmentIndex.ES; }
    public struct Cs : IBlockConstant { public static int Value => SegmentIndex.CS; }
    public struct Ss : IBlockConstant { public static int Value => SegmentIndex.SS; }
    public struct Ds : IBlockConstant { public static int Value => SegmentIndex.DS; }
    public struct Fs : IBlockConstant { public static int Value => SegmentIndex.FS; }
    public struct Gs : IBlockConstant { public static int Value => SegmentIndex.GS; }
    public struct Bytes1 : IBlockConstant { public static int Value => 1; }
    public struct Bytes2 : IBlockConstant { public static int Value => 2; }
    public struct Bytes4 : IBlockConstant { public static int Value => 4; }
    public struct Bytes8 : IBlockConstant { public static int Value => 8; }

    private static readonly Type[] s_segments = [typeof(Es), typeof(Cs), typeof(Ss), typeof(Ds), typeof(Fs), typeof(Gs)];

    public static Type Segment(int index) => s_segments[index];

    public static Type Size(int bytes) => bytes switch
    {
        1 => typeof(Bytes1),
        2 => typeof(Bytes2),
        4 => typeof(Bytes4),
        _ => typeof(Bytes8),
    };
}
