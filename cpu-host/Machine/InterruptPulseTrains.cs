using SplitEmu.DeviceHost.Sdk;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// The periodic interrupts devices hand to the machine (<see cref="IDeviceContext.SetPulseTrain"/>): one train per
/// interrupt line, delivered by the vCPU thread between run slices, so a pulse is never later in machine time than
/// the vCPU itself. A PIT in a device process that the host keeps off its core for a few milliseconds therefore
/// costs the guest no tick and no late tick (Linux's PIT clocksource counts them; one late by a period marks its TSC
/// unstable), and the PIT process sleeps between guest accesses instead of waking 250 times a second.
/// </summary>
/// <remarks>
/// A pulse at or before the line's last delivered pulse is never delivered again, so a device that states the same
/// train again (a restored successor, a repeated write) changes nothing; pulses of a replaced or cancelled train that
/// were due by then and not yet delivered are still delivered, so a train replaced mid-period neither repeats nor
/// skips an edge. Pulses the vCPU fell behind on (a pause, a long slice) are delivered together, at most
/// <see cref="MaxPulsesPerRun"/> at a time (the PIC queues the system timer's edges); beyond that the train skips
/// ahead to now, as a late chip would. Trains go on through a restart of their device's process (the guest's tick
/// keeps time while its PIT restarts); they end when replaced, cancelled, or their device is given up.
/// </remarks>
public sealed class InterruptPulseTrains(Action<int, bool> setLine, Func<long> machineNow, Action? earlierDeadline = null)
{
    /// <summary>Interrupt lines a train may drive (the ISA lines; an untrusted device's line is checked before).</summary>
    public const int LineCount = 16;

    /// <summary>Most pulses of one train delivered in one run; the rest of a backlog is dropped.</summary>
    public const int MaxPulsesPerRun = 64;

    private readonly Lock _gate = new();
    private readonly LineTrain?[] _lines = new LineTrain?[LineCount];

    /// <summary>Machine time of the earliest pulse still to come (long.MaxValue: none); read without the gate.</summary>
    private long _nextPulse = long.MaxValue;

    /// <summary>The machine time of the next pulse of any train, or <see cref="long.MaxValue"/>.</summary>
    public long NextDeadline => Volatile.Read(ref _nextPulse);

    /// <summary>The train of line <paramref name="line"/>, for reports and tests (null: none).</summary>
    public PulseTrain? TrainOf(int line)
    {
        lock (_gate)
        {
            return (uint)line < LineCount ? _lines[line]?.Train : null;
        }
    }

    /// <summary>Starts (or replaces) the train of <paramref name="line"/> for device <paramref name="owner"/>; false if the train is not one to run.</summary>
    public bool Set(string owner, int line, PulseTrain train)
    {
        if ((uint)line >= LineCount || !train.IsValid)
        {
            return false;
        }

        lock (_gate)
        {
            LineTrain state = _lines[line] ??= new LineTrain();
            OweDuePulses(state, machineNow());
            state.Owner = owner;
            state.Train = train;
            state.NextIndex = state.LastPulse < 0 ? 0 : train.FirstPulseAfter(state.LastPulse);
            UpdateNextPulse();
        }

        return true;
    }

    /// <summary>Stops the train of <paramref name="line"/> if device <paramref name="owner"/> set it.</summary>
    public void Cancel(string owner, int line)
    {
        lock (_gate)
        {
            if ((uint)line < LineCount && _lines[line] is { } state && state.Owner == owner)
            {
                OweDuePulses(state, machineNow());
                state.Train = null;
                UpdateNextPulse();
            }
        }
    }

    /// <summary>Stops every train device <paramref name="owner"/> set (it is given up or gone).</summary>
    public void CancelAll(string owner)
    {
        lock (_gate)
        {
            foreach (LineTrain? state in _lines)
            {
                if (state is not null && state.Owner == owner)
                {
                    state.Train = null;
                }
            }

            UpdateNextPulse();
        }
    }

    /// <summary>Stops every train (a machine reset: each device states its own again), dropping what they owed.</summary>
    public void CancelEverything()
    {
        lock (_gate)
        {
            foreach (LineTrain? state in _lines)
            {
                if (state is not null)
                {
                    state.Train = null;
                    state.Owed = 0;
                }
            }

            UpdateNextPulse();
        }
    }

    /// <summary>Delivers every pulse that is due by the machine clock, <c>machineNow</c> (vCPU thread); returns how many.</summary>
    public int RunDue()
    {
        long next = NextDeadline;
        if (next == long.MaxValue)
        {
            return 0; // no train: not even a clock read after each run slice
        }

        long now = machineNow();
        if (now < next)
        {
            return 0;
        }

        Span<int> pulses = stackalloc int[LineCount];
        lock (_gate)
        {
            for (int line = 0; line < LineCount; line++)
            {
                if (_lines[line] is not { } state)
                {
                    continue;
                }

                pulses[line] = state.Owed; // a replaced train's due pulses first
                state.Owed = 0;
                if (state.Train is not { } train || state.NextIndex == long.MaxValue)
                {
                    continue;
                }

                while (pulses[line] < MaxPulsesPerRun && state.NextIndex != long.MaxValue && train.TimeOfPulse(state.NextIndex) <= now)
                {
                    state.LastPulse = train.TimeOfPulse(state.NextIndex);
                    state.NextIndex = train.PeriodTicks == 0 ? long.MaxValue : state.NextIndex + 1;
                    pulses[line]++;
                }

                if (state.NextIndex != long.MaxValue && train.TimeOfPulse(state.NextIndex) <= now)
                {
                    state.NextIndex = train.FirstPulseAfter(now); // a backlog beyond the cap: skip ahead, as a late chip would
                }
            }

            UpdateNextPulse();
        }

        int delivered = 0;
        for (int line = 0; line < LineCount; line++)
        {
            for (int i = 0; i < pulses[line]; i++)
            {
                setLine(line, true);
                setLine(line, false);
            }

            delivered += pulses[line];
        }

        return delivered;
    }

    /// <summary>
    /// Before a line's train changes: its pulses that are due by <paramref name="now"/> and not yet delivered are
    /// owed (delivered by the next run, at most <see cref="MaxPulsesPerRun"/>), and count as delivered for what
    /// follows (caller holds the gate).
    /// </summary>
    private static void OweDuePulses(LineTrain state, long now)
    {
        if (state.Train is not { } train)
        {
            return;
        }

        while (state.Owed < MaxPulsesPerRun && state.NextIndex != long.MaxValue && train.TimeOfPulse(state.NextIndex) <= now)
        {
            state.LastPulse = train.TimeOfPulse(state.NextIndex);
            state.NextIndex = train.PeriodTicks == 0 ? long.MaxValue : state.NextIndex + 1;
            state.Owed++;
        }
    }

    /// <summary>Recomputes <see cref="NextDeadline"/> (caller holds the gate); a deadline that came earlier wakes a halted vCPU.</summary>
    private void UpdateNextPulse()
    {
        long next = long.MaxValue;
        foreach (LineTrain? state in _lines)
        {
            if (state is null)
            {
                continue;
            }

            if (state.Owed > 0)
            {
                next = long.MinValue; // owed pulses are due now
            }
            else if (state.Train is { } train && state.NextIndex != long.MaxValue)
            {
                next = Math.Min(next, train.TimeOfPulse(state.NextIndex));
            }
        }

        long before = Volatile.Read(ref _nextPulse);
        Volatile.Write(ref _nextPulse, next);
        if (next < before)
        {
            earlierDeadline?.Invoke();
        }
    }

    /// <summary>One line's train and how far it got.</summary>
    private sealed class LineTrain
    {
        /// <summary>The device that set the train.</summary>
        public string Owner { get; set; } = "";

        /// <summary>The running train, or null.</summary>
        public PulseTrain? Train { get; set; }

        /// <summary>Index of the train's next pulse (long.MaxValue: a one-pulse train that has fired).</summary>
        public long NextIndex { get; set; }

        /// <summary>Machine time of the last pulse delivered on the line, by any train (-1: none yet).</summary>
        public long LastPulse { get; set; } = -1;

        /// <summary>Due pulses of a train replaced or cancelled before the vCPU delivered them.</summary>
        public int Owed { get; set; }
    }
}
