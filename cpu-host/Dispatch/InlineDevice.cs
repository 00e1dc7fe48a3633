using SplitEmu.CpuHost.Memory;
using SplitEmu.DeviceHost.Common;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// A device running in the CPU process: accesses are direct calls, one at a time per device. A device model
/// that throws fails that access (a bus error) and is reported; it never takes the CPU process down.
/// </summary>
public sealed class InlineDevice : IDeviceLink
{
    private readonly Lock _gate = new();
    private long _reads;
    private long _writes;
    private long _failures;

    /// <summary>Regions the device was told are gone, and accesses that reached it anyway (under <see cref="_gate"/>).</summary>
    private readonly RegionsTold _regionsTold = new();

    /// <summary>Wraps <paramref name="device"/>.</summary>
    public InlineDevice(string id, IDevice device)
    {
        Id = id;
        Device = device;
    }

    /// <summary>The device id.</summary>
    public string Id { get; }

    /// <summary>The model.</summary>
    public IDevice Device { get; }

    /// <summary>Last failure of the model, for reports.</summary>
    public string? LastFault { get; private set; }

    /// <inheritdoc/>
    public IRegionHandler HandlerFor(int region) => new RegionHandler(this, region);

    /// <inheritdoc/>
    public bool CanBeStopped => false;

    /// <inheritdoc/>
    public void SetAbandoned(bool abandoned)
    {
        // Inline devices never restart, so nothing waits for them.
    }

    /// <inheritdoc/>
    public bool Barrier() => true; // direct calls: everything sent has been handled

    /// <inheritdoc/>
    public bool NotifyRegionGone(int region) => SetGone(region, true);

    /// <inheritdoc/>
    public bool NotifyRegionBack(int region) => SetGone(region, false);

    /// <inheritdoc/>
    public void StopHungDevice(string why) => LastFault = why; // inline code cannot be stopped; the fault is reported

    /// <summary>Accesses that reached the device after it was told their region is gone (must stay 0).</summary>
    public long AccessesAfterGone
    {
        get
        {
            lock (_gate)
            {
                return _regionsTold.AccessesAfterGone;
            }
        }
    }

    /// <summary>Counters so far.</summary>
    public DeviceAccessStats Stats(long outputBytes) => new()
    {
        DeviceId = Id,
        Reads = Interlocked.Read(ref _reads),
        Writes = Interlocked.Read(ref _writes),
        BusErrors = Interlocked.Read(ref _failures),
        OutputBytes = outputBytes,
        AccessesAfterGone = AccessesAfterGone,
    };

    private bool SetGone(int region, bool gone)
    {
        lock (_gate)
        {
            _regionsTold.Set(region, gone);
            return true;
        }
    }

    private ulong Read(int region, ulong offset, int size)
    {
        lock (_gate)
        {
            _regionsTold.CountAccess(region);
            try
            {
                ulong value = Device.Read(region, offset, size);
                _reads++;
                return value;
            }
            catch (Exception ex)
            {
                Fail(ex);
                return MachineBus.AllOnes(size);
            }
        }
    }

    private void Write(int region, ulong offset, int size, ulong value)
    {
        lock (_gate)
        {
            _regionsTold.CountAccess(region);
            try
            {
                Device.Write(region, offset, size, value);
                _writes++;
            }
            catch (Exception ex)
            {
                Fail(ex);
            }
        }
    }

    private int Input(int region, ReadOnlySpan<byte> data)
    {
        if (Device is not IConsoleInput input)
        {
            return IRegionHandler.InputRefused;
        }

        lock (_gate)
        {
            _regionsTold.CountAccess(region);
            try
            {
                return Math.Clamp(input.AcceptInput(data), 0, data.Length);
            }
            catch (Exception ex)
            {
                Fail(ex);
                return IRegionHandler.InputRefused;
            }
        }
    }

    /// <summary>Runs <paramref name="work"/> (a timer callback) as if it were an access: never beside one; a failure is reported.</summary>
    public void RunExclusive(Action work)
    {
        lock (_gate)
        {
            try
            {
                work();
            }
            catch (Exception ex)
            {
                Fail(ex);
            }
        }
    }

    private void Fail(Exception ex)
    {
        _failures++;
        LastFault = $"{ex.GetType().Name}: {ex.Message}";
        Console.Error.WriteLine($"device {Id}: access failed: {LastFault}");
    }

    private sealed class RegionHandler(InlineDevice owner, int region) : IRegionHandler
    {
        public ulong Read(ulong offset, int size) => owner.Read(region, offset, size);

        public void Write(ulong offset, int size, ulong value) => owner.Write(region, offset, size, value);

        public int Input(ReadOnlySpan<byte> data) => owner.Input(region, data);
    }
}
