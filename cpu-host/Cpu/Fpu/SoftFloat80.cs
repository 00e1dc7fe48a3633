using System.Numerics;

namespace SplitEmu.CpuHost.Cpu.Fpu;

/// <summary>
/// Exact IEEE 754 double-extended arithmetic as the x87 does it: integer significands (UInt128 products, long
/// division, digit-by-digit square root), the four rounding modes, precision control (24/53/64 bits with the
/// extended exponent range kept), tininess detected before rounding, and the six exception flags. One instance
/// belongs to one FPU; callers set <see cref="RoundingMode"/>, <see cref="PrecisionBits"/> and
/// <see cref="Masks"/> from the control word and read <see cref="Flags"/> and <see cref="RoundedUp"/> after.
/// </summary>
public sealed class SoftFloat80
{
    public const int InvalidFlag = 0x01;
    public const int DenormalFlag = 0x02;
    public const int ZeroDivideFlag = 0x04;
    public const int OverflowFlag = 0x08;
    public const int UnderflowFlag = 0x10;
    public const int PrecisionFlag = 0x20;

    public const int RoundNearest = 0;
    public const int RoundDown = 1;
    public const int RoundUp = 2;
    public const int RoundTowardZero = 3;

    /// <summary>The bias adjustment the x87 applies to an overflowed/underflowed result when the exception is unmasked.</summary>
    public const int WrapBias = 24576;

    /// <summary>Rounding control (0 nearest-even, 1 down, 2 up, 3 toward zero).</summary>
    public int RoundingMode { get; set; }

    /// <summary>Significand bits kept by the basic arithmetic (24, 53 or 64).</summary>
    public int PrecisionBits { get; set; } = 64;

    /// <summary>Exception mask bits of the control word (bit set = masked).</summary>
    public int Masks { get; set; } = 0x3F;

    /// <summary>Exception flags raised since the caller last cleared them.</summary>
    public int Flags { get; set; }

    /// <summary>The last rounding increased the magnitude (the x87 reports it in C1).</summary>
    public bool RoundedUp { get; set; }

    private bool Unmasked(int flag) => (Masks & flag) == 0;

    // ---------------------------------------------------------------- rounding

    /// <summary>
    /// Rounds sign × sig / 2^127 × 2^(exp − bias) to <paramref name="precision"/> bits and a format whose biased
    /// exponent tops out at <paramref name="maxExponent"/>. <paramref name="sig"/> has bit 127 set (or is 0); bits
    /// below the precision are round and sticky bits. Returns the biased exponent and the 64-bit significand with
    /// its integer bit at 63 (clear for denormal results). <paramref name="registerDestination"/> selects the
    /// x87's bias wrap for unmasked overflow/underflow.
    /// </summary>
    public (int Exponent, ulong Significand) Round(bool sign, int exp, UInt128 sig, int precision, int maxExponent, bool registerDestination)
    {
        RoundedUp = false;
        if (sig == UInt128.Zero)
            return (0, 0);
        bool tiny = false;
        if (exp <= 0)
        {
            if (registerDestination && Unmasked(UnderflowFlag))
            {
                Flags |= UnderflowFlag;
                exp += WrapBias;
            }
            else
            {
                tiny = true;
                sig = ShiftRightJam(sig, 1 - exp);
                exp = 0;
            }
        }
        int lowBits = 128 - precision;
        UInt128 mask = (UInt128.One << lowBits) - 1;
        UInt128 half = UInt128.One << (lowBits - 1);
        UInt128 roundBits = sig & mask;
        if (roundBits != UInt128.Zero)
        {
            Flags |= PrecisionFlag;
            bool increment = RoundingMode switch
            {
                RoundNearest => roundBits > half || (roundBits == half && ((sig >> lowBits) & UInt128.One) != UInt128.Zero),
                RoundDown => sign,
                RoundUp => !sign,
                _ => false,
            };
            sig &= ~mask;
            if (increment)
            {
                RoundedUp = true;
                UInt128 before = sig;
                sig += UInt128.One << lowBits;
                if (sig < before)
                {
                    sig = UInt128.One << 127;
                    exp++;
                }
            }
            if (tiny)
                Flags |= UnderflowFlag;
        }
        else if (tiny && Unmasked(UnderflowFlag))
        {
            Flags |= UnderflowFlag;
        }
        if (exp == 0 && (sig >> 127) != UInt128.Zero)
            exp = 1;
        if (exp >= maxExponent)
        {
            Flags |= OverflowFlag;
            if (registerDestination && Unmasked(OverflowFlag))
            {
                exp -= WrapBias;
            }
            else
            {
                Flags |= PrecisionFlag;
                bool toInfinity = RoundingMode == RoundNearest || (RoundingMode == RoundDown && sign) || (RoundingMode == RoundUp && !sign);
                if (toInfinity)
                {
                    RoundedUp = true;
                    return (maxExponent, Float80.IntegerBit);
                }
                RoundedUp = false;
                return (maxExponent - 1, (ulong)(~mask >> 64));
            }
        }
        return (exp, (ulong)(sig >> 64));
    }

    /// <summary>Rounds to an extended register value at <paramref name="precision"/> bits.</summary>
    public Float80 RoundExtended(bool sign, int exp, UInt128 sig, int precision)
    {
        (int e, ulong s) = Round(sign, exp, sig, precision, Float80.MaxExponent, registerDestination: true);
        return new Float80(sign, e, s);
    }

    /// <summary>Packs sign × value × 2^lsbExponent (unbiased) into an extended register value, rounding to <paramref name="precision"/> bits.</summary>
    public Float80 PackInteger(bool sign, UInt128 value, int lsbExponent, int precision)
    {
        if (value == UInt128.Zero)
            return Float80.ZeroOf(sign);
        int msb = 127 - (int)UInt128.LeadingZeroCount(value);
        return RoundExtended(sign, lsbExponent + msb + Float80.Bias, value << (127 - msb), precision);
    }

    public static UInt128 ShiftRightJam(UInt128 value, int count)
    {
        if (count <= 0)
            return value;
        if (count >= 128)
            return value != UInt128.Zero ? UInt128.One : UInt128.Zero;
        UInt128 lost = value & ((UInt128.One << count) - 1);
        return (value >> count) | (lost != UInt128.Zero ? UInt128.One : UInt128.Zero);
    }

    /// <summary>Exponent (unbiased-plus-bias, may be ≤ 0 for denormals) and normalized significand of a finite nonzero value.</summary>
    public static (int Exponent, ulong Significand) Unpack(Float80 x)
    {
        int exp = x.Exponent;
        ulong sig = x.Significand;
        if (exp == 0)
        {
            int lz = BitOperations.LeadingZeroCount(sig);
            return (1 - lz, sig << lz);
        }
        return (exp, sig);
    }

    // ---------------------------------------------------------------- operand screening

    /// <summary>The x87 rule for a NaN result from two operands (SDM Vol. 1, table 4-7).</summary>
    private Float80 PropagateNaN(Float80 a, Float80 b)
    {
        if (a.IsSignalingNaN || b.IsSignalingNaN)
            Flags |= InvalidFlag;
        if (a.IsNaN && b.IsNaN)
        {
            ulong ma = a.Significand | Float80.QuietBit, mb = b.Significand | Float80.QuietBit;
            Float80 pick = ma > mb ? a : mb > ma ? b : (a.Sign ? b : a);
            return Quiet(pick);
        }
        return Quiet(a.IsNaN ? a : b);
    }

    public static Float80 Quiet(Float80 x) => new(x.SignExponent, x.Significand | Float80.QuietBit);

    /// <summary>Screens two operands: true with <paramref name="result"/> set if either is a NaN or unsupported; raises DE for denormals.</summary>
    private bool Screen(Float80 a, Float80 b, out Float80 result)
    {
        if (a.IsUnsupported || b.IsUnsupported)
        {
            Flags |= InvalidFlag;
            result = Float80.Indefinite;
            return true;
        }
        if (a.IsNaN || b.IsNaN)
        {
            result = PropagateNaN(a, b);
            return true;
        }
        if (a.IsDenormal || b.IsDenormal)
            Flags |= DenormalFlag;
        result = default;
        return false;
    }

    private bool Screen(Float80 a, out Float80 result)
    {
        if (a.IsUnsupported)
        {
            Flags |= InvalidFlag;
            result = Float80.Indefinite;
            return true;
        }
        if (a.IsNaN)
        {
            if (a.IsSignalingNaN)
                Flags |= InvalidFlag;
            result = Quiet(a);
            return true;
        }
        if (a.IsDenormal)
            Flags |= DenormalFlag;
        result = default;
        return false;
    }

    private Float80 InvalidResult()
    {
        Flags |= InvalidFlag;
        return Float80.Indefinite;
    }

    // ---------------------------------------------------------------- arithmetic

    public Float80 Add(Float80 a, Float80 b) => AddSigned(a, b, negateB: false);

    public Float80 Subtract(Float80 a, Float80 b) => AddSigned(a, b, negateB: true);

    private Float80 AddSigned(Float80 a, Float80 b, bool negateB)
    {
        RoundedUp = false;
        if (Screen(a, b, out Float80 nan))
            return nan;
        if (negateB)
            b = b.Negate();
        if (a.IsInfinity)
            return b.IsInfinity && a.Sign != b.Sign ? InvalidResult() : a;
        if (b.IsInfinity)
            return b;
        if (a.IsZero && b.IsZero)
            return Float80.ZeroOf(a.Sign == b.Sign ? a.Sign : RoundingMode == RoundDown);
        if (a.IsZero || b.IsZero)
        {
            Float80 x = a.IsZero ? b : a;
            (int e, ulong s) = Unpack(x);
            return RoundExtended(x.Sign, e, (UInt128)s << 64, PrecisionBits);
        }
        (int ea, ulong sa) = Unpack(a);
        (int eb, ulong sb) = Unpack(b);
        bool signA = a.Sign, signB = b.Sign;
        if (eb > ea || (eb == ea && sb > sa))
        {
            (ea, eb) = (eb, ea);
            (sa, sb) = (sb, sa);
            (signA, signB) = (signB, signA);
        }
        UInt128 ma = (UInt128)sa << 63;
        UInt128 mb = ShiftRightJam((UInt128)sb << 63, ea - eb);
        if (signA == signB)
        {
            UInt128 m = ma + mb;
            if ((m >> 127) != UInt128.Zero)
                return RoundExtended(signA, ea + 1, m, PrecisionBits);
            return RoundExtended(signA, ea, m << 1, PrecisionBits);
        }
        UInt128 diff = ma - mb;
        if (diff == UInt128.Zero)
            return Float80.ZeroOf(RoundingMode == RoundDown);
        int lz = (int)UInt128.LeadingZeroCount(diff);
        return RoundExtended(signA, ea + 1 - lz, diff << lz, PrecisionBits);
    }

    public Float80 Multiply(Float80 a, Float80 b)
    {
        RoundedUp = false;
        if (Screen(a, b, out Float80 nan))
            return nan;
        bool sign = a.Sign ^ b.Sign;
        if (a.IsInfinity || b.IsInfinity)
            return a.IsZero || b.IsZero ? InvalidResult() : Float80.Infinity(sign);
        if (a.IsZero || b.IsZero)
            return Float80.ZeroOf(sign);
        (int ea, ulong sa) = Unpack(a);
        (int eb, ulong sb) = Unpack(b);
        UInt128 p = (UInt128)sa * sb;
        int exp = ea + eb - Float80.Bias;
        if ((p >> 127) != UInt128.Zero)
            return RoundExtended(sign, exp + 1, p, PrecisionBits);
        return RoundExtended(sign, exp, p << 1, PrecisionBits);
    }

    public Float80 Divide(Float80 a, Float80 b)
    {
        RoundedUp = false;
        if (Screen(a, b, out Float80 nan))
            return nan;
        bool sign = a.Sign ^ b.Sign;
        if (a.IsInfinity)
            return b.IsInfinity ? InvalidResult() : Float80.Infinity(sign);
        if (b.IsInfinity)
            return Float80.ZeroOf(sign);
        if (b.IsZero)
        {
            if (a.IsZero)
                return InvalidResult();
            Flags |= ZeroDivideFlag;
            return Float80.Infinity(sign);
        }
        if (a.IsZero)
            return Float80.ZeroOf(sign);
        (int ea, ulong sa) = Unpack(a);
        (int eb, ulong sb) = Unpack(b);
        // Q = sa * 2^127 / sb in [2^126, 2^128), by two 64-bit long-division steps.
        UInt128 n1 = (UInt128)sa << 63;
        UInt128 q1 = n1 / sb;
        UInt128 r1 = n1 - q1 * sb;
        UInt128 n2 = r1 << 64;
        UInt128 q2 = n2 / sb;
        UInt128 r2 = n2 - q2 * sb;
        UInt128 q = (q1 << 64) | q2;
        int exp = ea - eb + Float80.Bias;
        if ((q >> 127) == UInt128.Zero)
        {
            q <<= 1;
            exp--;
        }
        if (r2 != UInt128.Zero)
            q |= UInt128.One;
        return RoundExtended(sign, exp, q, PrecisionBits);
    }

    public Float80 SquareRoot(Float80 a)
    {
        RoundedUp = false;
        if (Screen(a, out Float80 nan))
            return nan;
        if (a.IsZero)
            return a;
        if (a.Sign)
            return InvalidResult();
        if (a.IsInfinity)
            return a;
        (int ea, ulong sa) = Unpack(a);
        int e = ea - Float80.Bias;
        int shift = (e & 1) == 0 ? 67 : 68;
        // Digit-by-digit root of X = sa << shift (a 132-bit number): 66 root bits, the top one at bit 65.
        UInt128 root = UInt128.Zero, rem = UInt128.Zero;
        for (int i = 0; i < 66; i++)
        {
            int hiBit = 131 - 2 * i;
            uint pair = (uint)((BitOf(sa, hiBit - shift) << 1) | BitOf(sa, hiBit - 1 - shift));
            rem = (rem << 2) | pair;
            UInt128 trial = (root << 2) | UInt128.One;
            root <<= 1;
            if (rem >= trial)
            {
                rem -= trial;
                root |= UInt128.One;
            }
        }
        UInt128 sig = root << 62;
        if (rem != UInt128.Zero)
            sig |= UInt128.One;
        return RoundExtended(false, (e >> 1) + Float80.Bias, sig, PrecisionBits);
    }

    private static ulong BitOf(ulong value, int bit) => bit is >= 0 and < 64 ? (value >> bit) & 1 : 0;

    /// <summary>
    /// FPREM (<paramref name="ieee"/> false: truncated quotient) and FPREM1 (true: quotient rounded to nearest even).
    /// Returns the (partial) remainder, the low three quotient bits and whether the reduction is incomplete (C2).
    /// </summary>
    public (Float80 Result, int QuotientBits, bool Incomplete) Remainder(Float80 a, Float80 b, bool ieee)
    {
        RoundedUp = false;
        if (Screen(a, b, out Float80 nan))
            return (nan, 0, false);
        if (a.IsInfinity || b.IsZero)
            return (InvalidResult(), 0, false);
        if (b.IsInfinity || a.IsZero)
            return (a, 0, false);
        (int ea, ulong sa) = Unpack(a);
        (int eb, ulong sb) = Unpack(b);
        int d = ea - eb;
        if (d < (ieee ? -1 : 0))
            return (NormalizeExact(a), 0, false);
        UInt128 num, den;
        int unitExponent;
        bool incomplete = false;
        if (d >= 64)
        {
            int n = 32 + ((d - 64) & 31);
            num = (UInt128)sa << n;
            den = sb;
            unitExponent = eb + d - n - Float80.Bias - 63;
            incomplete = true;
        }
        else if (d == -1)
        {
            num = sa;
            den = (UInt128)sb << 1;
            unitExponent = ea - Float80.Bias - 63;
        }
        else
        {
            num = (UInt128)sa << d;
            den = sb;
            unitExponent = eb - Float80.Bias - 63;
        }
        UInt128 q = num / den;
        UInt128 r = num - q * den;
        bool sign = a.Sign;
        if (ieee && !incomplete)
        {
            UInt128 twice = r << 1;
            if (twice > den || (twice == den && (q & UInt128.One) != UInt128.Zero))
            {
                q++;
                r = den - r;
                sign = !sign;
            }
        }
        Float80 result = r == UInt128.Zero ? Float80.ZeroOf(a.Sign) : PackInteger(sign, r, unitExponent, 64);
        return (result, (int)(q & 7), incomplete);
    }

    private Float80 NormalizeExact(Float80 a)
    {
        (int e, ulong s) = Unpack(a);
        return RoundExtended(a.Sign, e, (UInt128)s << 64, 64);
    }

    /// <summary>FRNDINT: rounds to an integral value by the rounding mode.</summary>
    public Float80 RoundToIntegral(Float80 a)
    {
        RoundedUp = false;
        if (Screen(a, out Float80 nan))
            return nan;
        if (a.IsZero || a.IsInfinity)
            return a;
        (int ea, ulong sa) = Unpack(a);
        int e = ea - Float80.Bias;
        if (e >= 63)
            return a;
        if (e >= 0)
            return RoundExtended(a.Sign, ea, (UInt128)sa << 64, e + 1);
        Flags |= PrecisionFlag;
        bool up = RoundingMode switch
        {
            RoundNearest => e == -1 && sa != Float80.IntegerBit,
            RoundDown => a.Sign,
            RoundUp => !a.Sign,
            _ => false,
        };
        RoundedUp = up;
        return up ? Float80.One.WithSign(a.Sign) : Float80.ZeroOf(a.Sign);
    }

    /// <summary>FSCALE: a × 2^trunc(b).</summary>
    public Float80 Scale(Float80 a, Float80 b)
    {
        RoundedUp = false;
        if (Screen(a, b, out Float80 nan))
            return nan;
        if (b.IsInfinity)
        {
            if (a.IsZero)
                return b.Sign ? a : InvalidResult();
            if (a.IsInfinity)
                return b.Sign ? InvalidResult() : a;
            return b.Sign ? Float80.ZeroOf(a.Sign) : Float80.Infinity(a.Sign);
        }
        if (a.IsZero || a.IsInfinity)
            return a;
        int scale;
        if (b.IsZero)
        {
            scale = 0;
        }
        else
        {
            (int eb, ulong sb) = Unpack(b);
            int e = eb - Float80.Bias;
            long magnitude = e < 0 ? 0 : e >= 20 ? 1 << 20 : (long)(sb >> (63 - e));
            scale = (int)(b.Sign ? -magnitude : magnitude);
        }
        (int ea, ulong sa) = Unpack(a);
        return RoundExtended(a.Sign, ea + scale, (UInt128)sa << 64, 64);
    }

    /// <summary>FXTRACT: (exponent as a value, significand with exponent 0).</summary>
    public (Float80 Exponent, Float80 Significand) Extract(Float80 a)
    {
        RoundedUp = false;
        if (Screen(a, out Float80 nan))
            return (nan, nan);
        if (a.IsZero)
        {
            Flags |= ZeroDivideFlag;
            return (Float80.Infinity(true), a);
        }
        if (a.IsInfinity)
            return (Float80.Infinity(false), a);
        (int ea, ulong sa) = Unpack(a);
        return (FromInt64(ea - Float80.Bias), new Float80(a.Sign, Float80.Bias, sa));
    }

    // ---------------------------------------------------------------- comparisons

    /// <summary>−1 less, 0 equal, 1 greater, 2 unordered. <paramref name="quiet"/>: only SNaNs raise IE (FUCOM).</summary>
    public int Compare(Float80 a, Float80 b, bool quiet)
    {
        if (a.IsUnsupported || b.IsUnsupported)
        {
            Flags |= InvalidFlag;
            return 2;
        }
        if (a.IsNaN || b.IsNaN)
        {
            if (!quiet || a.IsSignalingNaN || b.IsSignalingNaN)
                Flags |= InvalidFlag;
            return 2;
        }
        if (a.IsDenormal || b.IsDenormal)
            Flags |= DenormalFlag;
        if (a.IsZero && b.IsZero)
            return 0;
        if (a.Sign != b.Sign)
            return a.IsZero ? (b.Sign ? 1 : -1) : b.IsZero ? (a.Sign ? -1 : 1) : (a.Sign ? -1 : 1);
        int magnitude = CompareMagnitude(a, b);
        return a.Sign ? -magnitude : magnitude;
    }

    private static int CompareMagnitude(Float80 a, Float80 b)
    {
        if (a.IsZero)
            return b.IsZero ? 0 : -1;
        if (b.IsZero)
            return 1;
        if (a.IsInfinity || b.IsInfinity)
            return a.IsInfinity && b.IsInfinity ? 0 : a.IsInfinity ? 1 : -1;
        (int ea, ulong sa) = Unpack(a);
        (int eb, ulong sb) = Unpack(b);
        if (ea != eb)
            return ea > eb ? 1 : -1;
        return sa == sb ? 0 : sa > sb ? 1 : -1;
    }

    // ---------------------------------------------------------------- conversions

    public Float80 FromInt64(long value)
    {
        if (value == 0)
            return Float80.Zero;
        bool sign = value < 0;
        ulong magnitude = sign ? (ulong)(-(value + 1)) + 1 : (ulong)value;
        int lz = BitOperations.LeadingZeroCount(magnitude);
        return new Float80(sign, Float80.Bias + 63 - lz, magnitude << lz);
    }

    /// <summary>
    /// Converts to a signed integer of <paramref name="bits"/> bits by the rounding mode (or truncating). Out of
    /// range, NaN and infinity raise IE and give the integer indefinite (the most negative value).
    /// </summary>
    public long ToInt(Float80 a, int bits, bool truncate)
    {
        RoundedUp = false;
        long indefinite = bits == 64 ? long.MinValue : -(1L << (bits - 1));
        if (a.IsUnsupported || a.IsNaN || a.IsInfinity)
        {
            Flags |= InvalidFlag;
            return indefinite;
        }
        if (a.IsZero)
            return 0;
        if (a.IsDenormal)
            Flags |= DenormalFlag;
        (int ea, ulong sa) = Unpack(a);
        int e = ea - Float80.Bias;
        if (e > 63)
        {
            Flags |= InvalidFlag;
            return indefinite;
        }
        ulong integer;
        if (e == 63)
        {
            integer = sa;
        }
        else
        {
            UInt128 shifted = ShiftRightJam((UInt128)sa << 64, 63 - e);
            integer = (ulong)(shifted >> 64);
            ulong fraction = (ulong)shifted;
            if (fraction != 0)
            {
                int mode = truncate ? RoundTowardZero : RoundingMode;
                bool up = mode switch
                {
                    RoundNearest => fraction > Float80.IntegerBit || (fraction == Float80.IntegerBit && (integer & 1) != 0),
                    RoundDown => a.Sign,
                    RoundUp => !a.Sign,
                    _ => false,
                };
                if (up)
                    integer++;
                ulong limitInexact = a.Sign ? 1UL << (bits - 1) : (1UL << (bits - 1)) - 1;
                if (integer > limitInexact)
                {
                    Flags |= InvalidFlag;
                    return indefinite;
                }
                Flags |= PrecisionFlag;
                RoundedUp = up;
            }
        }
        ulong limit = a.Sign ? 1UL << (bits - 1) : (1UL << (bits - 1)) - 1;
        if (integer > limit)
        {
            Flags |= InvalidFlag;
            return indefinite;
        }
        return a.Sign ? (long)(0 - integer) : (long)integer;
    }

    /// <summary>m32real / m64real to extended: exact; SNaN raises IE and is quieted, denormals raise DE.</summary>
    public Float80 FromBinary(ulong bits, int exponentBits, int fractionBits)
    {
        bool sign = (bits >> (exponentBits + fractionBits)) != 0;
        int exp = (int)((bits >> fractionBits) & ((1UL << exponentBits) - 1));
        ulong fraction = bits & ((1UL << fractionBits) - 1);
        int maxExp = (1 << exponentBits) - 1;
        int bias = maxExp >> 1;
        if (exp == maxExp)
        {
            if (fraction == 0)
                return Float80.Infinity(sign);
            var nan = new Float80(sign, Float80.MaxExponent, Float80.IntegerBit | (fraction << (63 - fractionBits)));
            if (nan.IsSignalingNaN)
                Flags |= InvalidFlag;
            return Quiet(nan);
        }
        if (exp == 0)
        {
            if (fraction == 0)
                return Float80.ZeroOf(sign);
            Flags |= DenormalFlag;
            int lz = BitOperations.LeadingZeroCount(fraction);
            // value = fraction × 2^(1 − bias − fractionBits)
            return new Float80(sign, 1 - bias - fractionBits + (63 - lz) + Float80.Bias, fraction << lz);
        }
        return new Float80(sign, exp - bias + Float80.Bias, Float80.IntegerBit | (fraction << (63 - fractionBits)));
    }

    /// <summary>Extended to m32real / m64real, rounded by the rounding mode (precision control does not apply).</summary>
    public ulong ToBinary(Float80 a, int exponentBits, int fractionBits)
    {
        RoundedUp = false;
        ulong signBit = a.Sign ? 1UL << (exponentBits + fractionBits) : 0;
        ulong maxExp = (1UL << exponentBits) - 1;
        int bias = (int)(maxExp >> 1);
        if (a.IsUnsupported)
        {
            Flags |= InvalidFlag;
            return (1UL << (exponentBits + fractionBits)) | (maxExp << fractionBits) | (1UL << (fractionBits - 1));
        }
        if (a.IsNaN)
        {
            if (a.IsSignalingNaN)
                Flags |= InvalidFlag;
            ulong payload = (a.Significand & ~Float80.IntegerBit) >> (63 - fractionBits);
            return signBit | (maxExp << fractionBits) | payload | (1UL << (fractionBits - 1));
        }
        if (a.IsInfinity)
            return signBit | (maxExp << fractionBits);
        if (a.IsZero)
            return signBit;
        if (a.IsDenormal)
            Flags |= DenormalFlag;
        (int ea, ulong sa) = Unpack(a);
        (int e, ulong s) = Round(a.Sign, ea - Float80.Bias + bias, (UInt128)sa << 64, fractionBits + 1, (int)maxExp, registerDestination: false);
        if (e >= (int)maxExp)
            return signBit | (maxExp << fractionBits);
        ulong fraction = (s >> (63 - fractionBits)) & ((1UL << fractionBits) - 1);
        return signBit | ((ulong)e << fractionBits) | fraction;
    }

    /// <summary>Rounds to a register value at the current precision (FLD from memory does not round; FST to a register keeps the value).</summary>
    public Float80 FromConstant(bool sign, int exponent, UInt128 significand)
        => RoundExtended(sign, exponent, significand, 64);
}
