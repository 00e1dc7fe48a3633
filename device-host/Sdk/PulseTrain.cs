namespace SplitEmu.DeviceHost.Sdk;

/// <summary>
/// Interrupts at a fixed rate in a device's own clock, which the machine delivers by itself
/// (<see cref="IDeviceContext.SetPulseTrain"/>): pulse <c>k</c> (k = 0, 1, ...) comes at tick
/// <see cref="FirstTick"/> + k * <see cref="PeriodTicks"/> of a <see cref="TicksPerSecond"/> clock whose tick 0 is
/// machine time 0. A <see cref="PeriodTicks"/> of 0 is one pulse.
/// </summary>
/// <remarks>
/// Given in ticks, not nanoseconds, so that the pulses stay on the device's own grid however long they run (an
/// 8254's 4,773-tick period is 4,000,227.96 ns: a period rounded to whole nanoseconds would drift almost a
/// millisecond an hour from the counter the guest reads).
/// </remarks>
public readonly record struct PulseTrain(long FirstTick, long PeriodTicks, long TicksPerSecond)
{
    private const long NanosecondsPerSecond = 1_000_000_000;

    /// <summary>Shortest period the machine runs (an untrusted device asks for the rest): 1 us, 1 MHz of interrupts.</summary>
    public const long MinPeriodNanoseconds = 1_000;

    /// <summary>Latest machine time a pulse may come at (about 146 years): every time and tick sum stays in range.</summary>
    public const long MaxNanoseconds = 1L << 62;

    /// <summary>
    /// Whether the train is one the machine can run: a clock of 1 Hz to 1 GHz, a first pulse in range, and a period
    /// of 0 (one pulse) or from <see cref="MinPeriodNanoseconds"/> to <see cref="MaxNanoseconds"/>.
    /// </summary>
    public bool IsValid =>
        TicksPerSecond is > 0 and <= NanosecondsPerSecond
        && FirstTick >= 0 && FirstTick <= MaxNanoseconds / NanosecondsPerSecond * TicksPerSecond
        && (PeriodTicks == 0 || (PeriodTicks > 0 && PeriodTicks <= MaxNanoseconds / NanosecondsPerSecond * TicksPerSecond
            && (Int128)PeriodTicks * NanosecondsPerSecond >= (Int128)MinPeriodNanoseconds * TicksPerSecond));

    /// <summary>
    /// The machine time of pulse <paramref name="index"/>: the earliest nanosecond at which its tick has happened, or
    /// <see cref="long.MaxValue"/> when that is beyond <see cref="MaxNanoseconds"/> (never).
    /// </summary>
    public long TimeOfPulse(long index)
    {
        Int128 tick = FirstTick + ((Int128)index * PeriodTicks);
        Int128 time = ((tick * NanosecondsPerSecond) + TicksPerSecond - 1) / TicksPerSecond;
        return tick < 0 || time > MaxNanoseconds ? long.MaxValue : (long)time;
    }

    /// <summary>The index of the first pulse that comes after machine time <paramref name="nanoseconds"/> (long.MaxValue: none).</summary>
    public long FirstPulseAfter(long nanoseconds)
    {
        if (TimeOfPulse(0) > nanoseconds)
        {
            return 0;
        }

        if (PeriodTicks == 0)
        {
            return long.MaxValue;
        }

        long index = Math.Max(0, (TicksAt(nanoseconds, TicksPerSecond) - FirstTick) / PeriodTicks);
        for (int step = 0; step < 4 && TimeOfPulse(index) <= nanoseconds; step++)
        {
            index++; // once or twice: TicksAt and TimeOfTick round in opposite directions
        }

        return TimeOfPulse(index) <= nanoseconds ? long.MaxValue : index;
    }

    /// <summary>The earliest machine time at which tick <paramref name="tick"/> of a <paramref name="hz"/> clock has happened.</summary>
    public static long TimeOfTick(long tick, long hz)
    {
        long n = Math.Max(0, tick);
        return (n / hz * NanosecondsPerSecond) + (((n % hz * NanosecondsPerSecond) + hz - 1) / hz);
    }

    /// <summary>The ticks of a <paramref name="hz"/> clock that have happened by machine time <paramref name="nanoseconds"/>.</summary>
    public static long TicksAt(long nanoseconds, long hz)
    {
        long t = Math.Max(0, nanoseconds);
        return (t / NanosecondsPerSecond * hz) + (t % NanosecondsPerSecond * hz / NanosecondsPerSecond);
    }
}
