namespace SplitEmu.CpuHost.Cpu.Fpu;

/// <summary>
/// An x87 double-extended value as the registers and m80 hold it: sign and 15-bit biased exponent in
/// <see cref="SignExponent"/>, the 64-bit significand with its explicit integer bit in <see cref="Significand"/>.
/// </summary>
public readonly struct Float80 : IEquatable<Float80>
{
    public const int Bias = 16383;
    public const int MaxExponent = 0x7FFF;
    public const ulong IntegerBit = 1UL << 63;
    public const ulong QuietBit = 1UL << 62;

    public Float80(ushort signExponent, ulong significand)
    {
        SignExponent = signExponent;
        Significand = significand;
    }

    public Float80(bool sign, int exponent, ulong significand)
        : this((ushort)((sign ? 0x8000 : 0) | (exponent & MaxExponent)), significand)
    {
    }

    /// <summary>Bit 15 the sign, bits 14..0 the biased exponent.</summary>
    public ushort SignExponent { get; }

    /// <summary>The significand, bit 63 the explicit integer bit.</summary>
    public ulong Significand { get; }

    public bool Sign => (SignExponent & 0x8000) != 0;

    public int Exponent => SignExponent & MaxExponent;

    public static Float80 Zero => default;

    public static Float80 One => new(0x3FFF, IntegerBit);

    /// <summary>The default QNaN ("real indefinite") the x87 delivers for masked invalid operations.</summary>
    public static Float80 Indefinite => new(0xFFFF, IntegerBit | QuietBit);

    public static Float80 Infinity(bool sign) => new(sign, MaxExponent, IntegerBit);

    public static Float80 ZeroOf(bool sign) => new(sign, 0, 0);

    public bool IsZero => Exponent == 0 && Significand == 0;

    /// <summary>Denormal or pseudo-denormal (exponent 0, significand nonzero).</summary>
    public bool IsDenormal => Exponent == 0 && Significand != 0;

    public bool IsInfinity => Exponent == MaxExponent && Significand == IntegerBit;

    public bool IsNaN => Exponent == MaxExponent && (Significand & IntegerBit) != 0 && (Significand << 1) != 0;

    public bool IsSignalingNaN => IsNaN && (Significand & QuietBit) == 0;

    /// <summary>Encodings the 387 and later reject as invalid operands: unnormals, pseudo-NaNs, pseudo-infinities.</summary>
    public bool IsUnsupported => Exponent != 0 && (Significand & IntegerBit) == 0;

    /// <summary>A finite nonzero value with the integer bit set (not denormal, not unsupported).</summary>
    public bool IsNormal => Exponent != 0 && Exponent != MaxExponent && (Significand & IntegerBit) != 0;

    public Float80 Negate() => new((ushort)(SignExponent ^ 0x8000), Significand);

    public Float80 Abs() => new((ushort)(SignExponent & 0x7FFF), Significand);

    public Float80 WithSign(bool sign) => new((ushort)((SignExponent & 0x7FFF) | (sign ? 0x8000 : 0)), Significand);

    public bool Equals(Float80 other) => SignExponent == other.SignExponent && Significand == other.Significand;

    public override bool Equals(object? obj) => obj is Float80 other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(SignExponent, Significand);

    public static bool operator ==(Float80 left, Float80 right) => left.Equals(right);

    public static bool operator !=(Float80 left, Float80 right) => !left.Equals(right);

    public override string ToString() => $"{SignExponent:X4}_{Significand:X16}";
}
