using SplitEmu.Shared.Timing;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// Timers of the inline devices. Callbacks run on the vCPU thread between run slices, under the device's own
/// lock (<see cref="Dispatch.InlineDevice.RunTimer"/>), so they never overlap an access. When a deadline
/// passes while the CPU is running, the alarm's <c>due</c> callback cuts the slice short.
/// </summary>
public sealed class InlineTimers : IDisposable
{
    private const long Disarmed = long.MaxValue;

    private readonly Dictionary<string, (Dispatch.InlineDevice Device, long Deadline)> _timers = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly Action _due;
    private readonly Timer _alarm;
    private readonly MachineClock _clock;

    /// <summary>Timers on <paramref name="clock"/> that call <paramref name="due"/> (from a pool thread) when some deadline passes.</summary>
    public InlineTimers(Action due, MachineClock clock)
    {
        _due = due;
        _clock = clock;
        _alarm = new Timer(_ => _due(), null, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>The earliest armed deadline, or <see cref="long.MaxValue"/>.</summary>
    public long NextDeadline
    {
        get
        {
            lock (_gate)
            {
                return EarliestUnsynchronized();
            }
        }
    }

    /// <summary>Arms <paramref name="device"/>'s timer.</summary>
    public void Arm(Dispatch.InlineDevice device, long deadline)
    {
        lock (_gate)
        {
            _timers[device.Id] = (device, deadline);
            Reschedule();
        }
    }

    /// <summary>Disarms <paramref name="device"/>'s timer.</summary>
    public void Disarm(Dispatch.InlineDevice device)
    {
        lock (_gate)
        {
            _timers.Remove(device.Id);
            Reschedule();
        }
    }

    /// <summary>Runs every due callback (vCPU thread).</summary>
    public void RunDue()
    {
        long now = _clock.NowNanoseconds;
        List<Dispatch.InlineDevice>? due = null;
        lock (_gate)
        {
            foreach ((string id, (Dispatch.InlineDevice device, long deadline)) in _timers)
            {
                if (deadline <= now)
                {
                    (due ??= []).Add(device);
                }
            }

            if (due is null)
            {
                return;
            }

            foreach (Dispatch.InlineDevice device in due)
            {
                _timers.Remove(device.Id);
            }

            Reschedule();
        }

        foreach (Dispatch.InlineDevice device in due)
        {
            device.RunTimer(now);
        }
    }

    /// <summary>Stops the alarm and waits for a callback already running, so none runs after the machine is gone.</summary>
    public void Dispose()
    {
        using ManualResetEvent done = new(initialState: false);
        if (_alarm.Dispose(done))
        {
            done.WaitOne();
        }
    }

    /// <summary>The earliest armed deadline, or <see cref="Disarmed"/> (caller holds the gate).</summary>
    private long EarliestUnsynchronized() => _timers.Count == 0 ? Disarmed : _timers.Values.Min(t => t.Deadline);

    private void Reschedule()
    {
        long next = EarliestUnsynchronized();
        if (next == Disarmed)
        {
            _alarm.Change(Timeout.Infinite, Timeout.Infinite);
            return;
        }

        long waitMs = Math.Max(0, (next - _clock.NowNanoseconds + 999_999) / 1_000_000);
        _alarm.Change(Math.Min(waitMs, int.MaxValue - 1), Timeout.Infinite);
    }
}
