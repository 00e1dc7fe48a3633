using SplitEmu.Shared.Timing;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// The timers of a device process's devices, one per device. A watcher thread sleeps until the earliest
/// deadline and then asks the serving thread to run the due callbacks (<see cref="TakeDue"/>), so a device's
/// timer callback never runs beside one of its accesses.
/// </summary>
public sealed class DeviceTimers : IDisposable
{
    private const long Disarmed = long.MaxValue;

    private readonly long[] _deadlines;
    private readonly Action _wakeServer;
    /// <summary>A plain object: the watcher waits on it with Monitor.Wait.</summary>
    private readonly object _gate = new();
    private readonly Thread _watcher;
    private bool _stopped;

    /// <summary>Timers for <paramref name="deviceCount"/> devices on <paramref name="clock"/>; <paramref name="wakeServer"/> tells the serving thread some are due.</summary>
    public DeviceTimers(int deviceCount, Action wakeServer, MachineClock clock)
    {
        Clock = clock;
        _deadlines = Enumerable.Repeat(Disarmed, deviceCount).ToArray();
        _wakeServer = wakeServer;
        _watcher = new Thread(Watch) { Name = "device-timers", IsBackground = true };
        _watcher.Start();
    }

    /// <summary>The machine clock the deadlines are on (published by the CPU process in the segment; stops while the machine stands still).</summary>
    public MachineClock Clock { get; }

    /// <summary>Arms device <paramref name="device"/>'s timer for <paramref name="deadline"/> (machine-clock nanoseconds).</summary>
    public void Arm(int device, long deadline)
    {
        lock (_gate)
        {
            _deadlines[device] = deadline;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Disarms device <paramref name="device"/>'s timer.</summary>
    public void Disarm(int device)
    {
        lock (_gate)
        {
            _deadlines[device] = Disarmed;
        }
    }

    /// <summary>Devices whose deadline has passed, disarmed as they are taken (serving thread).</summary>
    public int TakeDue(long now, Span<int> due)
    {
        int count = 0;
        lock (_gate)
        {
            for (int device = 0; device < _deadlines.Length && count < due.Length; device++)
            {
                if (_deadlines[device] <= now)
                {
                    _deadlines[device] = Disarmed;
                    due[count++] = device;
                }
            }
        }

        return count;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate)
        {
            _stopped = true;
            Monitor.PulseAll(_gate);
        }

        _watcher.Join();
    }

    private void Watch()
    {
        lock (_gate)
        {
            while (!_stopped)
            {
                long earliest = _deadlines.Length == 0 ? Disarmed : _deadlines.Min();
                long now = Clock.NowNanoseconds;
                if (earliest <= now)
                {
                    _wakeServer();
                    // The serving thread disarms what it takes; until then, look again shortly rather than spin.
                    Monitor.Wait(_gate, 1);
                    continue;
                }

                if (earliest == Disarmed)
                {
                    Monitor.Wait(_gate);
                }
                else
                {
                    // Monitor waits in whole milliseconds: round up, so a wake-up is never early by design.
                    long waitMs = Math.Min((earliest - now + 999_999) / 1_000_000, int.MaxValue);
                    Monitor.Wait(_gate, (int)waitMs);
                }
            }
        }
    }
}
