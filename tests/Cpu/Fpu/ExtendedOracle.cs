using System.Numerics;
using SplitEmu.CpuHost.Cpu.Fpu;

namespace SplitEmu.Tests.Cpu.Fpu;

/// <summary>
/// An independent reference for correctly rounded extended results, on BigInteger rationals: the exact value
/// (N / D) × 2^shift is scaled to an integer with many spare bits plus a sticky bit and rounded to p bits by
/// the IEEE rules. It shares no code with SoftFloat80 and handles normal results only.
/// </summary>
internal static class ExtendedOracle
{
    public static (BigInteger Significand, int Shift) Exact(Float80 x)
    {
        int exp = x.Exponent == 0 ? 1 : x.Exponent;
        return (new BigInteger(x.Significand), exp - 16383 - 63);
    }

    /// <summary>Rounds sign × N / D × 2^shift to a p-bit significand in rounding mode 0..3 (nearest, down, up, zero).</summary>
    public static (Float80 Value, bool Inexact) Round(bool sign, BigInteger n, BigInteger d, int shift, int p, int mode)
    {
        int k = p + 8 - (int)(n.GetBitLength() - d.GetBitLength()) - shift;
        int scaled = shift + k;
        BigInteger q = scaled >= 0 ? BigInteger.DivRem(n << scaled, d, out BigInteger r) : BigInteger.DivRem(n, d << -scaled, out r);
        return RoundScaled(sign, q, !r.IsZero, k, p, mode);
    }

    /// <summary>Rounds sign × sqrt(N × 2^shift).</summary>
    public static (Float80 Value, bool Inexact) RoundSqrt(BigInteger n, int shift, int p, int mode)
    {
        if ((shift & 1) != 0)
        {
            n <<= 1;
            shift--;
        }
        int k = p + 8 - ((int)n.GetBitLength() + shift) / 2;
        if (shift + 2 * k < 0)
            k = -shift / 2 + 1;
        BigInteger radicand = n << (shift + 2 * k);
        BigInteger root = ISqrt(radicand);
        return RoundScaled(false, root, root * root != radicand, k, p, mode);
    }

    private static (Float80, bool) RoundScaled(bool sign, BigInteger q, bool sticky, int k, int p, int mode)
    {
        int drop = (int)q.GetBitLength() - p;
        BigInteger m = q >> drop;
        BigInteger rem = q - (m << drop);
        BigInteger half = BigInteger.One << (drop - 1);
        bool inexact = sticky || !rem.IsZero;
        bool up = mode switch
        {
            0 => rem > half || (rem == half && (sticky || !m.IsEven)),
            1 => sign && inexact,
            2 => !sign && inexact,
            _ => false,
        };
        if (up)
            m += 1;
        if (m.GetBitLength() > p)
        {
            m >>= 1;
            drop++;
        }
        // value = m × 2^(drop − k), m has p bits: unbiased exponent (drop − k) + (p − 1)
        int e = drop - k + p - 1;
        ulong sig = (ulong)(m << (64 - p));
        return (new Float80(sign, e + 16383, sig), inexact);
    }

    private static BigInteger ISqrt(BigInteger n)
    {
        if (n.IsZero)
            return n;
        BigInteger x = BigInteger.One << (int)((n.GetBitLength() + 1) / 2);
        while (true)
        {
            BigInteger y = (x + n / x) >> 1;
            if (y >= x)
                return x;
            x = y;
        }
    }
}
