using System.Buffers.Binary;

namespace SplitEmu.CpuHost.Cpu.Fpu;

/// <summary>
/// The memory images of the x87 state (SDM Vol. 1 §8.1.10 and Vol. 2 FXSAVE): the FNSTENV/FLDENV environment
/// in its four layouts (16/32-bit operand size × real/protected mode), FNSAVE/FRSTOR (environment plus the
/// eight registers in ST order) and the 512-byte FXSAVE legacy area.
/// </summary>
public static class X87SaveFormats
{
    public const int Environment16Size = 14;
    public const int Environment32Size = 28;
    public const int RegisterBytes = 10;
    public const int FxsaveSize = 512;
    /// <summary>Bytes of the FXSAVE area that hold x87 state (header and ST0..ST7); the rest is the XMM area.</summary>
    public const int FxsaveX87Bytes = 160;
    /// <summary>MXCSR_MASK stored by FXSAVE: the bits a processor without DAZ supports.</summary>
    public const uint MxcsrMask = 0xFFBF;

    public static int EnvironmentSize(bool operand32) => operand32 ? Environment32Size : Environment16Size;

    public static void WriteEnvironment(X87State s, Span<byte> dst, bool operand32, bool realMode)
    {
        dst[..EnvironmentSize(operand32)].Clear();
        uint ipLinear = realMode ? (uint)(s.Fcs << 4) + s.Fip : s.Fip;
        uint dpLinear = realMode ? (uint)(s.Fds << 4) + s.Fdp : s.Fdp;
        if (operand32)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(dst, 0xFFFF_0000u | s.Control);
            BinaryPrimitives.WriteUInt32LittleEndian(dst[4..], 0xFFFF_0000u | s.Status);
            BinaryPrimitives.WriteUInt32LittleEndian(dst[8..], 0xFFFF_0000u | s.TagWord);
            if (realMode)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(dst[12..], 0xFFFF_0000u | (ipLinear & 0xFFFF));
                BinaryPrimitives.WriteUInt32LittleEndian(dst[16..], ((ipLinear >> 16) << 12) | (uint)(s.Fop & 0x7FF));
                BinaryPrimitives.WriteUInt32LittleEndian(dst[20..], 0xFFFF_0000u | (dpLinear & 0xFFFF));
                BinaryPrimitives.WriteUInt32LittleEndian(dst[24..], (dpLinear >> 16) << 12);
            }
            else
            {
                BinaryPrimitives.WriteUInt32LittleEndian(dst[12..], s.Fip);
                BinaryPrimitives.WriteUInt32LittleEndian(dst[16..], s.Fcs | ((uint)(s.Fop & 0x7FF) << 16));
                BinaryPrimitives.WriteUInt32LittleEndian(dst[20..], s.Fdp);
                BinaryPrimitives.WriteUInt32LittleEndian(dst[24..], 0xFFFF_0000u | s.Fds);
            }
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(dst, s.Control);
            BinaryPrimitives.WriteUInt16LittleEndian(dst[2..], s.Status);
            BinaryPrimitives.WriteUInt16LittleEndian(dst[4..], s.TagWord);
            if (realMode)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(dst[6..], (ushort)ipLinear);
                BinaryPrimitives.WriteUInt16LittleEndian(dst[8..], (ushort)((((ipLinear >> 16) & 0xF) << 12) | (uint)(s.Fop & 0x7FF)));
                BinaryPrimitives.WriteUInt16LittleEndian(dst[10..], (ushort)dpLinear);
                BinaryPrimitives.WriteUInt16LittleEndian(dst[12..], (ushort)(((dpLinear >> 16) & 0xF) << 12));
            }
            else
            {
                BinaryPrimitives.WriteUInt16LittleEndian(dst[6..], (ushort)s.Fip);
                BinaryPrimitives.WriteUInt16LittleEndian(dst[8..], s.Fcs);
                BinaryPrimitives.WriteUInt16LittleEndian(dst[10..], (ushort)s.Fdp);
                BinaryPrimitives.WriteUInt16LittleEndian(dst[12..], s.Fds);
            }
        }
    }

    public static void ReadEnvironment(X87State s, ReadOnlySpan<byte> src, bool operand32, bool realMode)
    {
        uint Field(ReadOnlySpan<byte> image, int index) => operand32 ? BinaryPrimitives.ReadUInt32LittleEndian(image[(index * 4)..]) : BinaryPrimitives.ReadUInt16LittleEndian(image[(index * 2)..]);
        s.SetControl((ushort)Field(src, 0));
        s.TagWord = (ushort)Field(src, 2);
        s.Status = (ushort)Field(src, 1);
        if (realMode)
        {
            uint highShift = operand32 ? 0xFFFFu : 0xFu;
            s.Fip = (Field(src, 3) & 0xFFFF) | (((Field(src, 4) >> 12) & highShift) << 16);
            s.Fop = (ushort)(Field(src, 4) & 0x7FF);
            s.Fdp = (Field(src, 5) & 0xFFFF) | (((Field(src, 6) >> 12) & highShift) << 16);
            s.Fcs = 0;
            s.Fds = 0;
        }
        else
        {
            s.Fip = Field(src, 3);
            s.Fcs = (ushort)Field(src, 4);
            s.Fop = operand32 ? (ushort)((Field(src, 4) >> 16) & 0x7FF) : (ushort)0;
            s.Fdp = Field(src, 5);
            s.Fds = (ushort)Field(src, 6);
        }
    }

    public static void WriteRegister(Span<byte> dst, Float80 value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(dst, value.Significand);
        BinaryPrimitives.WriteUInt16LittleEndian(dst[8..], value.SignExponent);
    }

    public static Float80 ReadRegister(ReadOnlySpan<byte> src)
        => new(BinaryPrimitives.ReadUInt16LittleEndian(src[8..]), BinaryPrimitives.ReadUInt64LittleEndian(src));

    /// <summary>FNSAVE image: environment then ST(0)..ST(7).</summary>
    public static int WriteSave(X87State s, Span<byte> dst, bool operand32, bool realMode)
    {
        WriteEnvironment(s, dst, operand32, realMode);
        int offset = EnvironmentSize(operand32);
        for (int st = 0; st < 8; st++)
            WriteRegister(dst[(offset + st * RegisterBytes)..], s.St(st));
        return offset + 8 * RegisterBytes;
    }

    public static void ReadSave(X87State s, ReadOnlySpan<byte> src, bool operand32, bool realMode)
    {
        ReadEnvironment(s, src, operand32, realMode);
        int offset = EnvironmentSize(operand32);
        for (int st = 0; st < 8; st++)
            s.SetPhysicalRegister(s.Physical(st), ReadRegister(src[(offset + st * RegisterBytes)..]));
    }

    /// <summary>The 32-bit FXSAVE legacy layout into the first 160 bytes of <paramref name="dst"/>.</summary>
    public static void WriteFxsave(X87State s, Span<byte> dst)
    {
        dst[..FxsaveX87Bytes].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(dst, s.Control);
        BinaryPrimitives.WriteUInt16LittleEndian(dst[2..], s.Status);
        dst[4] = s.AbridgedTag;
        BinaryPrimitives.WriteUInt16LittleEndian(dst[6..], (ushort)(s.Fop & 0x7FF));
        BinaryPrimitives.WriteUInt32LittleEndian(dst[8..], s.Fip);
        BinaryPrimitives.WriteUInt16LittleEndian(dst[12..], s.Fcs);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[16..], s.Fdp);
        BinaryPrimitives.WriteUInt16LittleEndian(dst[20..], s.Fds);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[24..], s.Mxcsr);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[28..], MxcsrMask);
        for (int st = 0; st < 8; st++)
            WriteRegister(dst[(32 + st * 16)..], s.St(st));
    }

    /// <summary>Loads an FXSAVE image; false (nothing loaded) if MXCSR has reserved bits set (#GP).</summary>
    public static bool ReadFxsave(X87State s, ReadOnlySpan<byte> src)
    {
        uint mxcsr = BinaryPrimitives.ReadUInt32LittleEndian(src[24..]);
        if ((mxcsr & ~MxcsrMask) != 0)
            return false;
        s.SetControl(BinaryPrimitives.ReadUInt16LittleEndian(src));
        s.Status = BinaryPrimitives.ReadUInt16LittleEndian(src[2..]);
        s.AbridgedTag = src[4];
        s.Fop = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(src[6..]) & 0x7FF);
        s.Fip = BinaryPrimitives.ReadUInt32LittleEndian(src[8..]);
        s.Fcs = BinaryPrimitives.ReadUInt16LittleEndian(src[12..]);
        s.Fdp = BinaryPrimitives.ReadUInt32LittleEndian(src[16..]);
        s.Fds = BinaryPrimitives.ReadUInt16LittleEndian(src[20..]);
        s.Mxcsr = mxcsr;
        for (int st = 0; st < 8; st++)
            s.SetPhysicalRegister(s.Physical(st), ReadRegister(src[(32 + st * 16)..]));
        return true;
    }
}
