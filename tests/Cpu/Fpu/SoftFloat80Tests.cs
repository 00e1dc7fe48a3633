using System.Numerics;
using SplitEmu.CpuHost.Cpu.Fpu;

namespace SplitEmu.Tests.Cpu.Fpu;

/// <summary>
/// The soft-float against the BigInteger oracle on random normal operands, every rounding mode and every
/// precision-control setting, plus known bit patterns and special operands.
/// </summary>
public sealed class SoftFloat80Tests
{
    /// <summary>Operands per (operation, mode, precision) case; enough to hit ties and carries.</summary>
    private const int RandomOperands = 1500;

    public static TheoryData<string, int, int> Cases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (string op in new[] { "add", "sub", "mul", "div", "sqrt" })
            foreach (int mode in new[] { 0, 1, 2, 3 })
                foreach (int p in new[] { 24, 53, 64 })
                    data.Add(op, mode, p);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RandomOperands_MatchBigIntegerOracle(string op, int mode, int precision)
    {
        var rng = new Random(HashCode.Combine(op.GetHashCode(StringComparison.Ordinal), mode, precision) & 0x7FFF_FFFF);
        var sf = new SoftFloat80 { RoundingMode = mode, PrecisionBits = precision };
        for (int i = 0; i < RandomOperands; i++)
        {
            Float80 a = RandomNormal(rng, op == "sqrt" ? false : null);
            Float80 b = RandomNormal(rng, null);
            if (op is "add" or "sub" && rng.Next(4) == 0)
                b = new Float80(b.Sign, a.Exponent - rng.Next(3), b.Significand); // close exponents: cancellation
            (BigInteger na, int ua) = ExtendedOracle.Exact(a);
            (BigInteger nb, int ub) = ExtendedOracle.Exact(b);
            BigInteger sa = a.Sign ? -na : na, sb = b.Sign ? -nb : nb;
            int u = Math.Min(ua, ub);
            (Float80 expected, bool inexact) = op switch
            {
                "add" => Signed(sa * BigInteger.Pow(2, ua - u) + sb * BigInteger.Pow(2, ub - u), BigInteger.One, u, precision, mode),
                "sub" => Signed(sa * BigInteger.Pow(2, ua - u) - sb * BigInteger.Pow(2, ub - u), BigInteger.One, u, precision, mode),
                "mul" => Signed(sa * sb, BigInteger.One, ua + ub, precision, mode),
                "div" => Signed(sa, sb, ua - ub, precision, mode),
                _ => ExtendedOracle.RoundSqrt(na, ua, precision, mode),
            };
            sf.Flags = 0;
            Float80 actual = op switch
            {
                "add" => sf.Add(a, b),
                "sub" => sf.Subtract(a, b),
                "mul" => sf.Multiply(a, b),
                "div" => sf.Divide(a, b),
                _ => sf.SquareRoot(a),
            };
            if (expected.IsZero)
                continue; // exact cancellation: covered by the signed-zero test
            Assert.True(expected == actual, $"{op} {a} {b} mode {mode} pc {precision}: expected {expected}, got {actual}");
            Assert.Equal(inexact, (sf.Flags & SoftFloat80.PrecisionFlag) != 0);
        }
    }

    private static (Float80, bool) Signed(BigInteger n, BigInteger d, int shift, int p, int mode)
    {
        if (n.IsZero)
            return (Float80.Zero, false);
        bool sign = (n.Sign < 0) ^ (d.Sign < 0);
        return ExtendedOracle.Round(sign, BigInteger.Abs(n), BigInteger.Abs(d), shift, p, mode);
    }

    private static Float80 RandomNormal(Random rng, bool? sign)
    {
        ulong sig = (ulong)rng.NextInt64() | ((ulong)rng.Next() << 32) | Float80.IntegerBit;
        if (rng.Next(3) == 0)
            sig &= ~((1UL << rng.Next(1, 40)) - 1) | Float80.IntegerBit; // short significands make exact cases and ties
        return new Float80(sign ?? rng.Next(2) == 0, 16383 + rng.Next(-60, 60), sig);
    }

    [Fact]
    public void OneThird_IsTheKnownExtendedPattern()
    {
        var sf = new SoftFloat80();
        Float80 third = sf.Divide(Float80.One, sf.FromInt64(3));
        // 1/3 = 0.0101..., nearest 64-bit significand AAAA...AAAB at exponent -2
        Assert.Equal(new Float80(0x3FFD, 0xAAAA_AAAA_AAAA_AAAB), third);
    }

    [Fact]
    public void SquareRootOfTwo_IsTheKnownExtendedPattern()
    {
        var sf = new SoftFloat80();
        // sqrt(2) = 1.6A09E667F3BCC908B2FB... → significand B504F333F9DE6484 (next bits 597D... round down)
        Assert.Equal(new Float80(0x3FFF, 0xB504_F333_F9DE_6484), sf.SquareRoot(sf.FromInt64(2)));
    }

    [Fact]
    public void ExactCancellation_IsPlusZero_ExceptRoundingDown()
    {
        var sf = new SoftFloat80();
        Float80 x = sf.FromInt64(5);
        Assert.Equal(Float80.Zero, sf.Subtract(x, x));
        sf.RoundingMode = SoftFloat80.RoundDown;
        Assert.Equal(Float80.ZeroOf(true), sf.Subtract(x, x));
    }

    [Fact]
    public void DivideByZero_RaisesZeroDivide_AndGivesSignedInfinity()
    {
        var sf = new SoftFloat80();
        Float80 r = sf.Divide(sf.FromInt64(-1), Float80.Zero);
        Assert.Equal(Float80.Infinity(true), r);
        Assert.Equal(SoftFloat80.ZeroDivideFlag, sf.Flags);
    }

    [Fact]
    public void InfinityMinusInfinity_IsInvalid_AndGivesTheIndefinite()
    {
        var sf = new SoftFloat80();
        Assert.Equal(Float80.Indefinite, sf.Add(Float80.Infinity(false), Float80.Infinity(true)));
        Assert.Equal(SoftFloat80.InvalidFlag, sf.Flags);
    }

    [Fact]
    public void SignalingNaN_IsQuieted_AndRaisesInvalid()
    {
        var sf = new SoftFloat80();
        var snan = new Float80(0x7FFF, 0x8000_0000_0000_0001);
        Float80 r = sf.Add(snan, Float80.One);
        Assert.Equal(new Float80(0x7FFF, 0xC000_0000_0000_0001), r);
        Assert.Equal(SoftFloat80.InvalidFlag, sf.Flags);
    }

    [Fact]
    public void TwoQuietNaNs_GiveTheLargerSignificand()
    {
        var sf = new SoftFloat80();
        var small = new Float80(0xFFFF, 0xC000_0000_0000_0005);
        var large = new Float80(0x7FFF, 0xC000_0000_0000_0009);
        Assert.Equal(large, sf.Multiply(small, large));
        Assert.Equal(0, sf.Flags);
    }

    [Fact]
    public void Unnormal_IsAnInvalidOperand()
    {
        var sf = new SoftFloat80();
        var unnormal = new Float80(0x3FFF, 0x4000_0000_0000_0000);
        Assert.Equal(Float80.Indefinite, sf.Add(unnormal, Float80.One));
        Assert.Equal(SoftFloat80.InvalidFlag, sf.Flags);
    }

    [Fact]
    public void PseudoDenormal_IsReadAsTheNormalOfExponentOne_WithDenormalFlag()
    {
        var sf = new SoftFloat80();
        var pseudo = new Float80(0x0000, 0x8000_0000_0000_0000); // = 2^-16382
        Float80 r = sf.Multiply(pseudo, sf.FromInt64(2));
        Assert.Equal(new Float80(0x0002, 0x8000_0000_0000_0000), r);
        Assert.Equal(SoftFloat80.DenormalFlag, sf.Flags);
    }

    [Fact]
    public void TinyResult_IsDenormalized_WithUnderflowAndPrecision()
    {
        var sf = new SoftFloat80();
        var smallest = new Float80(0x0001, 0x8000_0000_0000_0000); // 2^-16382
        Float80 r = sf.Divide(smallest, sf.FromInt64(3));
        // 2^-16382 / 3: denormal significand 2^63 / 3 = 0x2AAA...AAA.AA... → rounds up to ...AAB
        Assert.Equal(new Float80(0x0000, 0x2AAA_AAAA_AAAA_AAAB), r);
        Assert.Equal(SoftFloat80.UnderflowFlag | SoftFloat80.PrecisionFlag, sf.Flags);
    }

    [Fact]
    public void Overflow_Masked_RoundsToInfinityOrLargestByMode()
    {
        var big = new Float80(0x7FFE, 0xFFFF_FFFF_FFFF_FFFF);
        var nearest = new SoftFloat80();
        Assert.Equal(Float80.Infinity(false), nearest.Multiply(big, nearest.FromInt64(2)));
        Assert.Equal(SoftFloat80.OverflowFlag | SoftFloat80.PrecisionFlag, nearest.Flags);
        var zero = new SoftFloat80 { RoundingMode = SoftFloat80.RoundTowardZero };
        Assert.Equal(big, zero.Multiply(big, zero.FromInt64(2)));
    }

    [Fact]
    public void Overflow_Unmasked_WrapsTheExponentBy24576()
    {
        var sf = new SoftFloat80 { Masks = 0x3F & ~SoftFloat80.OverflowFlag };
        var big = new Float80(0x7FFE, 0x8000_0000_0000_0000);
        Float80 r = sf.Multiply(big, sf.FromInt64(4));
        Assert.Equal(new Float80(0x8000 - 24576, 0x8000_0000_0000_0000), r);
        Assert.True((sf.Flags & SoftFloat80.OverflowFlag) != 0);
    }

    [Theory]
    [InlineData(1.5)]
    [InlineData(-2.75e300)]
    [InlineData(4.9406564584124654e-324)]
    [InlineData(-0.1)]
    [InlineData(123456789.0)]
    public void DoubleRoundTrip_IsExact(double value)
    {
        var sf = new SoftFloat80();
        ulong bits = (ulong)BitConverter.DoubleToInt64Bits(value);
        Float80 x = sf.FromBinary(bits, 11, 52);
        Assert.Equal(bits, sf.ToBinary(x, 11, 52));
    }

    [Fact]
    public void DoubleToExtended_MatchesTheKnownPattern()
    {
        var sf = new SoftFloat80();
        // 0.1 = 0x3FB999999999999A → extended 3FFB CCCCCCCCCCCCD000
        Assert.Equal(new Float80(0x3FFB, 0xCCCC_CCCC_CCCC_D000), sf.FromBinary(0x3FB9_9999_9999_999A, 11, 52));
    }

    [Theory]
    [InlineData(0, 0x3FB9_9999_9999_999AUL)]
    [InlineData(1, 0x3FB9_9999_9999_9999UL)]
    [InlineData(2, 0x3FB9_9999_9999_999AUL)]
    [InlineData(3, 0x3FB9_9999_9999_9999UL)]
    public void ExtendedTenthToDouble_RoundsByMode(int mode, ulong expected)
    {
        var sf = new SoftFloat80 { RoundingMode = mode };
        Float80 tenth = sf.Divide(Float80.One, sf.FromInt64(10)); // 0.1 in extended (rounded to nearest: ...CCCD)
        sf.RoundingMode = mode;
        Assert.Equal(expected, sf.ToBinary(tenth, 11, 52));
    }

    [Theory]
    [InlineData(0, 2, 3)]   // 2.5 → 2 (even), -2.5 → -2
    [InlineData(1, 2, 3)]
    [InlineData(2, 3, 2)]
    [InlineData(3, 2, 2)]
    public void ToInt_RoundsByMode(int mode, long positive, long negativeMagnitude)
    {
        var sf = new SoftFloat80 { RoundingMode = mode };
        Float80 twoAndHalf = new(0x4000, 0xA000_0000_0000_0000);
        Assert.Equal(positive, sf.ToInt(twoAndHalf, 32, truncate: false));
        long expectedNegative = mode == 0 ? -2 : -negativeMagnitude;
        Assert.Equal(expectedNegative, sf.ToInt(twoAndHalf.Negate(), 32, truncate: false));
    }

    [Fact]
    public void ToInt_OutOfRange_IsInvalid_AndGivesIntegerIndefinite()
    {
        var sf = new SoftFloat80();
        Assert.Equal(short.MinValue, sf.ToInt(sf.FromInt64(40000), 16, truncate: false));
        Assert.Equal(SoftFloat80.InvalidFlag, sf.Flags);
    }

    [Theory]
    [InlineData(7, 3, false, 1, 2)]     // 7 rem 3 = 1, q = 2
    [InlineData(7, 3, true, 1, 2)]      // 7 - 2*3 = 1
    [InlineData(8, 3, true, -1, 3)]     // 8/3 = 2.67 → q 3, r -1
    [InlineData(-7, 2, false, -1, 3)]
    public void Remainder_IsExact(long a, long b, bool ieee, long expected, int quotientBits)
    {
        var sf = new SoftFloat80();
        (Float80 r, int q, bool incomplete) = sf.Remainder(sf.FromInt64(a), sf.FromInt64(b), ieee);
        Assert.Equal(sf.FromInt64(expected), r);
        Assert.Equal(quotientBits, q);
        Assert.False(incomplete);
    }

    [Fact]
    public void Remainder_OfHugeExponentDifference_IsPartial()
    {
        var sf = new SoftFloat80();
        var huge = new Float80(0x3FFF + 200, 0xC000_0000_0000_0000);
        (_, _, bool incomplete) = sf.Remainder(huge, sf.FromInt64(3), ieee: false);
        Assert.True(incomplete);
    }
}
