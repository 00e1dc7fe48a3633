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
    /// <summary>One call into the model at a time: accesses from any vCPU, timer callbacks, resets.</summary>
    private readonly Lock _gate = new();

    /// <summary>Calls the model: counts, fails a throwing access as a bus error, keeps the regions told gone (under <see cref="_gate"/>).</summary>
    private readonly DeviceInvoker _invoker;

    /// <summary>Wraps <paramref name="device"/>.</summary>
    public InlineDevice(string id, IDevice device) => _invoker = new DeviceInvoker(id, device);

    /// <summary>The device id.</summary>
    public string Id => _invoker.DeviceId;

    /// <summary>The model.</summary>
    public IDevice Device => _invoker.Device;

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
    public void StopHungDevice(string why) =>
        Console.Error.WriteLine($"device {_invoker.DeviceId}: {why}; inline code cannot be stopped"); // the map never asks (CanBeStopped is false): said, not hidden

    /// <summary>Accesses that reached the device after it was told their region is gone (must stay 0).</summary>
    public long AccessesAfterGone
    {
        get
        {
            lock (_gate)
            {
                return _invoker.AccessesAfterGone;
            }
        }
    }

    /// <summary>Counters so far.</summary>
    public DeviceAccessStats Stats(long outputBytes)
    {
        lock (_gate)
        {
            return _invoker.ToStats(outputBytes);
        }
    }

    /// <summary>Runs the device's timer callback for <paramref name="now"/> as if it were an access: never beside one; a failure is reported.</summary>
    public void RunTimer(long now)
    {
        lock (_gate)
        {
            _invoker.RunTimer(now);
        }
    }

    /// <summary>A machine reset: the device back to its power-on state, never beside an access; a failure is reported.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _invoker.Reset();
        }
    }

    private bool SetGone(int region, bool gone)
    {
        lock (_gate)
        {
            _invoker.SetRegionGone(region, gone);
            return true;
        }
    }

    private ulong Read(int region, ulong offset, int size)
    {
        lock (_gate)
        {
            return _invoker.TryRead(region, offset, size, out ulong value) ? value : MachineBus.AllOnes(size);
        }
    }

    private void Write(int region, ulong offset, int size, ulong value)
    {
        lock (_gate)
        {
            _invoker.TryWrite(region, offset, size, value);
        }
    }

    private int Input(int region, ReadOnlySpan<byte> data)
    {
        lock (_gate)
        {
            int taken = _invoker.Input(region, data);
            return taken == DeviceInvoker.InputRefused ? IRegionHandler.InputRefused : taken;
        }
    }

    private sealed class RegionHandler(InlineDevice owner, int region) : IRegionHandler
    {
        public ulong Read(ulong offset, int size) => owner.Read(region, offset, size);

        public void Write(ulong offset, int size, ulong value) => owner.Write(region, offset, size, value);

        public int Input(ReadOnlySpan<byte> data) => owner.Input(region, data);
    }
}
