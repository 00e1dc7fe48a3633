namespace SplitEmu.CpuHost.Cpu.Fpu;

/// <summary>
/// The x87 register file: eight physical 80-bit registers addressed relative to TOP, which of them are empty,
/// the control and status words, and the last-instruction pointers (FIP/FCS/FOP, FDP/FDS).
/// </summary>
public sealed class X87State
{
    public const ushort StatusInvalid = 0x0001;
    public const ushort StatusStackFault = 0x0040;
    public const ushort StatusErrorSummary = 0x0080;
    public const ushort StatusC0 = 0x0100;
    public const ushort StatusC1 = 0x0200;
    public const ushort StatusC2 = 0x0400;
    public const ushort StatusC3 = 0x4000;
    public const ushort StatusBusy = 0x8000;
    public const ushort ConditionMask = StatusC0 | StatusC1 | StatusC2 | StatusC3;
    public const ushort DefaultControl = 0x037F;
    public const uint DefaultMxcsr = 0x1F80;

    private readonly Float80[] _registers = new Float80[8];

    /// <summary>Bit i set: physical register i is empty (tag 11).</summary>
    public int EmptyMask { get; set; } = 0xFF;

    public ushort Control { get; private set; } = DefaultControl;

    /// <summary>The status word without TOP (bits 11..13 are kept in <see cref="Top"/>).</summary>
    private ushort _status;

    /// <summary>Index of the physical register that is ST(0).</summary>
    public int Top { get; set; }

    /// <summary>Instruction pointer offset (or real-mode linear address) of the last non-control instruction.</summary>
    public uint Fip { get; set; }

    public ushort Fcs { get; set; }

    /// <summary>The last non-control instruction's opcode: low 3 bits of the escape byte, then the ModR/M byte.</summary>
    public ushort Fop { get; set; }

    /// <summary>Offset of that instruction's memory operand.</summary>
    public uint Fdp { get; set; }

    public ushort Fds { get; set; }

    /// <summary>Stored by FXSAVE/FXRSTOR only; there is no SSE unit.</summary>
    public uint Mxcsr { get; set; } = DefaultMxcsr;

    public SoftFloat80 Arithmetic { get; } = new();

    public ushort Status
    {
        get => (ushort)((_status & ~0x3800) | ((Top & 7) << 11));
        set
        {
            _status = (ushort)(value & ~0x3800);
            Top = (value >> 11) & 7;
            UpdateErrorSummary();
        }
    }

    public void SetControl(ushort value)
    {
        Control = (ushort)((value & 0x1F3F) | 0x0040);
        Arithmetic.Masks = value & 0x3F;
        Arithmetic.RoundingMode = (value >> 10) & 3;
        Arithmetic.PrecisionBits = ((value >> 8) & 3) switch { 0 => 24, 2 => 53, _ => 64 };
        UpdateErrorSummary();
    }

    /// <summary>ES and B follow whether any raised exception is unmasked (as a 387 does, also after FLDCW).</summary>
    private void UpdateErrorSummary()
    {
        if ((_status & ~Control & 0x3F) != 0)
            _status |= StatusErrorSummary | StatusBusy;
        else
            _status &= unchecked((ushort)~(StatusErrorSummary | StatusBusy));
    }

    public bool ErrorPending => (_status & StatusErrorSummary) != 0;

    public void RaiseFlags(int flags)
    {
        _status |= (ushort)(flags & 0x3F);
        UpdateErrorSummary();
    }

    public void SetStackFault(bool overflow)
    {
        _status |= StatusInvalid | StatusStackFault;
        SetCondition(StatusC1, overflow);
        UpdateErrorSummary();
    }

    public void SetCondition(ushort bit, bool value)
    {
        if (value)
            _status |= bit;
        else
            _status &= (ushort)~bit;
    }

    public void SetConditionCodes(ushort bits) => _status = (ushort)((_status & ~ConditionMask) | (bits & ConditionMask));

    public void ClearExceptions() => _status &= 0x7F00;

    public void Init()
    {
        SetControl(DefaultControl);
        _status = 0;
        Top = 0;
        EmptyMask = 0xFF;
        Fip = 0;
        Fcs = 0;
        Fop = 0;
        Fdp = 0;
        Fds = 0;
    }

    /// <summary>
    /// The power-on/RESET state of SDM Vol. 3 table 9-1: control word 0040H (every exception unmasked, 24-bit
    /// precision), status 0, tag word 5555H (all registers valid +0.0), pointers 0. Software runs FNINIT first.
    /// </summary>
    public void Reset()
    {
        Init();
        SetControl(ResetControl);
        Array.Clear(_registers);
        EmptyMask = 0;
        Mxcsr = DefaultMxcsr;
    }

    public const ushort ResetControl = 0x0040;

    public int Physical(int st) => (Top + st) & 7;

    public bool IsEmpty(int st) => (EmptyMask & (1 << Physical(st))) != 0;

    public Float80 St(int st) => _registers[Physical(st)];

    public void SetSt(int st, Float80 value)
    {
        int p = Physical(st);
        _registers[p] = value;
        EmptyMask &= ~(1 << p);
    }

    public Float80 PhysicalRegister(int p) => _registers[p & 7];

    public void SetPhysicalRegister(int p, Float80 value) => _registers[p & 7] = value;

    public void Free(int st) => EmptyMask |= 1 << Physical(st);

    public void Pop()
    {
        Free(0);
        Top = (Top + 1) & 7;
    }

    /// <summary>Decrements TOP and writes ST(0) (the caller has checked for overflow).</summary>
    public void Push(Float80 value)
    {
        Top = (Top - 1) & 7;
        SetSt(0, value);
    }

    /// <summary>The 2-bit tag of a physical register as FNSTENV/FNSAVE report it: 0 valid, 1 zero, 2 special, 3 empty.</summary>
    public int TagOf(int p)
    {
        if ((EmptyMask & (1 << p)) != 0)
            return 3;
        Float80 v = _registers[p];
        if (v.IsZero)
            return 1;
        return v.IsNormal ? 0 : 2;
    }

    public ushort TagWord
    {
        get
        {
            int tag = 0;
            for (int p = 0; p < 8; p++)
                tag |= TagOf(p) << (2 * p);
            return (ushort)tag;
        }
        set
        {
            int empty = 0;
            for (int p = 0; p < 8; p++)
            {
                if (((value >> (2 * p)) & 3) == 3)
                    empty |= 1 << p;
            }
            EmptyMask = empty;
        }
    }

    /// <summary>The FXSAVE abridged tag: bit i set when physical register i is not empty.</summary>
    public byte AbridgedTag
    {
        get => (byte)~EmptyMask;
        set => EmptyMask = (byte)~value;
    }
}
