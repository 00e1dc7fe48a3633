using System.Numerics;
using System.Runtime.CompilerServices;

namespace SplitEmu.CpuHost.Cpu;

/// <summary>What produced the arithmetic flags that are still held lazily.</summary>
internal enum LazyFlagsOp : byte
{
    /// <summary>All six arithmetic flags are in EFLAGS.</summary>
    None,
    /// <summary>ADD/ADC: result = a + b (+ carry).</summary>
    Add,
    /// <summary>SUB/SBB/CMP/NEG: result = a - b (- borrow).</summary>
    Sub,
    /// <summary>AND/OR/XOR/TEST: CF = OF = AF = 0.</summary>
    Logic,
    /// <summary>INC: as Add with b = 1 but CF kept in EFLAGS.</summary>
    Inc,
    /// <summary>DEC: as Sub with b = 1 but CF kept in EFLAGS.</summary>
    Dec,
    /// <summary>Only ZF, SF and PF come from the result; CF, OF and AF are in EFLAGS (shifts, multiplies...).</summary>
    ResultOnly,
}

// Lazy arithmetic flags: instructions record their operands and result; flags are computed when read.
public sealed partial class X86Cpu
{
    private LazyFlagsOp _flagsOp;
    private ulong _flagsResult;
    private ulong _flagsA;
    private ulong _flagsB;
    /// <summary>Index of the sign bit of the recorded operation (7, 15, 31 or 63).</summary>
    private int _flagsSignBit;

    private static ulong SizeMask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetLazyFlags(LazyFlagsOp op, int size, ulong result, ulong a, ulong b)
    {
        _flagsOp = op;
        _flagsSignBit = size * 8 - 1;
        _flagsResult = result;
        _flagsA = a;
        _flagsB = b;
    }

    /// <summary>Records an INC/DEC: CF must survive, so it is made concrete first.</summary>
    private void SetIncDecFlags(LazyFlagsOp op, int size, ulong result, ulong a)
    {
        bool cf = GetCF();
        _state.Eflags = (_state.Eflags & ~EflagsBits.CF) | (cf ? EflagsBits.CF : 0);
        SetLazyFlags(op, size, result, a, 1);
    }

    /// <summary>Records a result whose ZF/SF/PF come from it, with CF/OF/AF given explicitly.</summary>
    private void SetResultFlags(int size, ulong result, bool cf, bool of, bool af = false)
    {
        uint f = _state.Eflags & ~(EflagsBits.CF | EflagsBits.OF | EflagsBits.AF);
        if (cf) f |= EflagsBits.CF;
        if (of) f |= EflagsBits.OF;
        if (af) f |= EflagsBits.AF;
        _state.Eflags = f;
        SetLazyFlags(LazyFlagsOp.ResultOnly, size, result, 0, 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool GetZF() => _flagsOp == LazyFlagsOp.None
        ? (_state.Eflags & EflagsBits.ZF) != 0
        : (_flagsResult & (ulong.MaxValue >> (63 - _flagsSignBit))) == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool GetSF() => _flagsOp == LazyFlagsOp.None
        ? (_state.Eflags & EflagsBits.SF) != 0
        : ((_flagsResult >> _flagsSignBit) & 1) != 0;

    private bool GetPF() => _flagsOp == LazyFlagsOp.None
        ? (_state.Eflags & EflagsBits.PF) != 0
        : (BitOperations.PopCount((uint)(byte)_flagsResult) & 1) == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool GetCF()
    {
        ulong a = _flagsA, b = _flagsB, r = _flagsResult;
        switch (_flagsOp)
        {
            case LazyFlagsOp.Add:
                return ((((a & b) | ((a | b) & ~r)) >> _flagsSignBit) & 1) != 0;
            case LazyFlagsOp.Sub:
                return ((((~a & b) | ((~a | b) & r)) >> _flagsSignBit) & 1) != 0;
            case LazyFlagsOp.Logic:
                return false;
            default:
                return (_state.Eflags & EflagsBits.CF) != 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool GetOF()
    {
        ulong a = _flagsA, b = _flagsB, r = _flagsResult;
        switch (_flagsOp)
        {
            case LazyFlagsOp.Add:
            case LazyFlagsOp.Inc:
                return ((((a ^ r) & (b ^ r)) >> _flagsSignBit) & 1) != 0;
            case LazyFlagsOp.Sub:
            case LazyFlagsOp.Dec:
                return ((((a ^ b) & (a ^ r)) >> _flagsSignBit) & 1) != 0;
            case LazyFlagsOp.Logic:
                return false;
            default:
                return (_state.Eflags & EflagsBits.OF) != 0;
        }
    }

    private bool GetAF()
    {
        switch (_flagsOp)
        {
            case LazyFlagsOp.Add:
            case LazyFlagsOp.Sub:
            case LazyFlagsOp.Inc:
            case LazyFlagsOp.Dec:
                return ((_flagsA ^ _flagsB ^ _flagsResult) & 0x10) != 0;
            case LazyFlagsOp.Logic:
                return false;
            default:
                return (_state.Eflags & EflagsBits.AF) != 0;
        }
    }

    /// <summary>Folds the lazy flags into EFLAGS.</summary>
    private void MaterializeFlags()
    {
        if (_flagsOp == LazyFlagsOp.None)
            return;
        uint f = _state.Eflags & ~EflagsBits.Arithmetic;
        if (GetCF()) f |= EflagsBits.CF;
        if (GetPF()) f |= EflagsBits.PF;
        if (GetAF()) f |= EflagsBits.AF;
        if (GetZF()) f |= EflagsBits.ZF;
        if (GetSF()) f |= EflagsBits.SF;
        if (GetOF()) f |= EflagsBits.OF;
        _state.Eflags = f;
        _flagsOp = LazyFlagsOp.None;
    }

    /// <summary>The exact EFLAGS value.</summary>
    private uint GetEflags()
    {
        MaterializeFlags();
        return _state.Eflags;
    }

    /// <summary>Replaces the flags selected by <paramref name="mask"/>; re-arms interrupt checks when IF becomes set.</summary>
    private void SetEflags(uint value, uint mask)
    {
        MaterializeFlags();
        uint old = _state.Eflags;
        _state.Eflags = (old & ~mask) | (value & mask) | EflagsBits.Reserved1;
        if ((old & EflagsBits.IF) == 0 && (_state.Eflags & EflagsBits.IF) != 0)
            _eventsPending = 1;
    }

    private void SetFlag(uint flag, bool value)
    {
        MaterializeFlags();
        _state.Eflags = value ? _state.Eflags | flag : _state.Eflags & ~flag;
    }

    private void LoadFlagsFromState() => _flagsOp = LazyFlagsOp.None;

    private void StoreFlagsToState() => MaterializeFlags();

    /// <summary>Evaluates condition code 0..15 (the low nibble of Jcc/SETcc/CMOVcc opcodes).</summary>
    private bool Condition(int cc)
    {
        bool r;
        switch (cc >> 1)
        {
            case 0: r = GetOF(); break;
            case 1: r = GetCF(); break;
            case 2: r = GetZF(); break;
            case 3: r = GetCF() || GetZF(); break;
            case 4: r = GetSF(); break;
            case 5: r = GetPF(); break;
            case 6: r = GetSF() != GetOF(); break;
            default: r = GetZF() || GetSF() != GetOF(); break;
        }
        return (cc & 1) != 0 ? !r : r;
    }
}
