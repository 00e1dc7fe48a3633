using Iced.Intel;
using SplitEmu.CpuHost.Cpu.Fpu;

namespace SplitEmu.CpuHost.Cpu;

// FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1. These are computed in binary64 (System.Math) and
// widened back, so results carry about 53 correct bits rather than the 387's 64; special operands (NaN,
// infinities, zeros, out-of-range arguments, stack faults) follow the SDM exactly. See docs/fpu.md.
public sealed partial class X86Cpu
{
    private const double TwoTo63 = 9.223372036854775808e18;

    private void ExecuteFpuTranscendental(Mnemonic m)
    {
        SoftFloat80 a = _fpu.Arithmetic;
        bool binary = m is Mnemonic.Fpatan or Mnemonic.Fyl2x or Mnemonic.Fyl2xp1;
        bool pushes = m is Mnemonic.Fsincos or Mnemonic.Fptan;
        if (binary)
        {
            if (!FpuTwoOperands(out Float80 x, out Float80 y, writeIndefiniteToSt1: true))
            {
                if ((_fpu.Control & FpuIE) != 0)
                    _fpu.Pop();
                return;
            }
            Float80 r = m switch
            {
                Mnemonic.Fpatan => BinaryViaDouble(y, x, Math.Atan2),
                Mnemonic.Fyl2x => Fyl2x(y, x),
                _ => Fyl2xp1(y, x),
            };
            if (!FpuCommitFlags())
                return;
            _fpu.SetSt(1, r);
            _fpu.Pop();
            return;
        }
        if (_fpu.IsEmpty(0))
        {
            if (FpuStackUnderflow())
            {
                _fpu.SetSt(0, Float80.Indefinite);
                if (pushes)
                    FpuPush(Float80.Indefinite);
            }
            return;
        }
        if (pushes && !_fpu.IsEmpty(7))
        {
            FpuPush(default);
            return;
        }
        Float80 st0 = _fpu.St(0);
        if (m != Mnemonic.F2xm1 && st0.IsNormal && st0.Exponent - Float80.Bias >= 63)
        {
            _fpu.SetCondition(X87State.StatusC2, true); // out of range: operand unchanged
            return;
        }
        _fpu.SetCondition(X87State.StatusC2, false);
        switch (m)
        {
            case Mnemonic.Fsin: UnaryResult(UnaryViaDouble(st0, Math.Sin, zeroKeepsSign: true)); break;
            case Mnemonic.Fcos: UnaryResult(UnaryViaDouble(st0, Math.Cos, zeroKeepsSign: false)); break;
            case Mnemonic.F2xm1: UnaryResult(UnaryViaDouble(st0, TwoToXMinusOne, zeroKeepsSign: true)); break;
            case Mnemonic.Fsincos:
            {
                Float80 s = UnaryViaDouble(st0, Math.Sin, zeroKeepsSign: true);
                Float80 c = UnaryViaDouble(st0, Math.Cos, zeroKeepsSign: false);
                if (!FpuCommitFlags())
                    return;
                _fpu.SetSt(0, s);
                if (!(st0.IsNaN || st0.IsInfinity || st0.IsUnsupported) || (a.Flags & FpuIE) != 0)
                    _fpu.Push(st0.IsNaN ? s : c);
                break;
            }
            default: // Fptan
            {
                Float80 t = UnaryViaDouble(st0, Math.Tan, zeroKeepsSign: true);
                if (!FpuCommitFlags())
                    return;
                _fpu.SetSt(0, t);
                _fpu.Push(st0.IsNaN || st0.IsInfinity || st0.IsUnsupported ? t : Float80.One);
                break;
            }
        }
    }

    private void UnaryResult(Float80 result)
    {
        if (FpuCommitFlags())
            _fpu.SetSt(0, result);
    }

    private static double TwoToXMinusOne(double x)
        => Math.Abs(x) < 1e-5 ? x * Math.Log(2) * (1 + x * Math.Log(2) / 2 * (1 + x * Math.Log(2) / 3)) : Math.Pow(2, x) - 1;

    private double ToDouble(Float80 x) => BitConverter.Int64BitsToDouble((long)_fpu.Arithmetic.ToBinary(x, 11, 52));

    private Float80 FromDouble(double value)
    {
        SoftFloat80 a = _fpu.Arithmetic;
        int saved = a.Flags;
        Float80 r = a.FromBinary((ulong)BitConverter.DoubleToInt64Bits(value), 11, 52);
        a.Flags = saved;
        return r;
    }

    /// <summary>f(x) through binary64; NaN propagates, infinity is invalid, zero keeps its sign where f(±0) = ±0.</summary>
    private Float80 UnaryViaDouble(Float80 x, Func<double, double> f, bool zeroKeepsSign)
    {
        SoftFloat80 a = _fpu.Arithmetic;
        if (x.IsUnsupported || x.IsInfinity)
        {
            a.Flags |= FpuIE;
            return Float80.Indefinite;
        }
        if (x.IsNaN)
        {
            if (x.IsSignalingNaN)
                a.Flags |= FpuIE;
            return SoftFloat80.Quiet(x);
        }
        if (x.IsZero && zeroKeepsSign)
            return x;
        if (x.IsDenormal)
            a.Flags |= FpuDE;
        int saved = a.Flags;
        double dx = ToDouble(x);
        a.Flags = saved;
        Float80 r = FromDouble(f(dx));
        a.Flags |= SoftFloat80.PrecisionFlag;
        a.RoundedUp = false;
        return r;
    }

    private Float80 BinaryViaDouble(Float80 y, Float80 x, Func<double, double, double> f)
    {
        SoftFloat80 a = _fpu.Arithmetic;
        if (x.IsUnsupported || y.IsUnsupported)
        {
            a.Flags |= FpuIE;
            return Float80.Indefinite;
        }
        if (x.IsNaN || y.IsNaN)
        {
            if (x.IsSignalingNaN || y.IsSignalingNaN)
                a.Flags |= FpuIE;
            return SoftFloat80.Quiet(y.IsNaN ? y : x);
        }
        if (x.IsDenormal || y.IsDenormal)
            a.Flags |= FpuDE;
        int saved = a.Flags;
        double dy = ToDouble(y), dx = ToDouble(x);
        a.Flags = saved;
        double r = f(dy, dx);
        if (double.IsNaN(r))
        {
            a.Flags |= FpuIE;
            return Float80.Indefinite;
        }
        if (double.IsInfinity(r) && !double.IsInfinity(dy) && !double.IsInfinity(dx))
            a.Flags |= FpuZE;
        else if (!(r == 0 || double.IsInfinity(r)))
            a.Flags |= SoftFloat80.PrecisionFlag;
        a.RoundedUp = false;
        return FromDouble(r);
    }

    private Float80 Fyl2x(Float80 y, Float80 x) => BinaryViaDouble(y, x, static (dy, dx) =>
    {
        if (dx < 0 || (dx == 0 && dy == 0) || (double.IsInfinity(dx) && dy == 0) || (dx == 1 && double.IsInfinity(dy)))
            return double.NaN;
        return dy * Math.Log2(dx);
    });

    private Float80 Fyl2xp1(Float80 y, Float80 x) => BinaryViaDouble(y, x, static (dy, dx) =>
    {
        if (dx <= -1 || (dx == 0 && double.IsInfinity(dy)))
            return double.NaN;
        double u = 1 + dx;
        double log1p = u == 1 ? dx : Math.Log(u) * dx / (u - 1);
        return dy * log1p / Math.Log(2);
    });
}
