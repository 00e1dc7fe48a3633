using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Tests.Devices.Contract;

/// <summary>
/// The contract's reference: the model called with no host at all, with what every placement promises written
/// out plainly. A model that throws fails that access (a read answers all ones of its size, a write is dropped)
/// and is counted as a bus error; reads and writes are counted when the model answered; an access to a region
/// the device was told is gone is counted; input a device has no receive side for is refused.
/// </summary>
internal sealed class ModelCalledDirectly(IDevice model) : IPlacedDevice
{
    private readonly HashSet<int> _gone = [];
    private long _reads;
    private long _writes;
    private long _busErrors;
    private long _accessesAfterGone;

    public ulong Read(int region, ulong offset, int size)
    {
        CountIfGone(region);
        try
        {
            ulong value = model.Read(region, offset, size);
            _reads++;
            return value;
        }
        catch (Exception)
        {
            _busErrors++;
            return size >= 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;
        }
    }

    public void Write(int region, ulong offset, int size, ulong value)
    {
        CountIfGone(region);
        try
        {
            model.Write(region, offset, size, value);
            _writes++;
        }
        catch (Exception)
        {
            _busErrors++;
        }
    }

    public int Input(int region, ReadOnlySpan<byte> data)
    {
        if (model is not IConsoleInput input)
        {
            return IPlacedDevice.InputRefused;
        }

        CountIfGone(region);
        try
        {
            return Math.Clamp(input.AcceptInput(data), 0, data.Length);
        }
        catch (Exception)
        {
            _busErrors++;
            return IPlacedDevice.InputRefused;
        }
    }

    public void SetRegionGone(int region, bool gone)
    {
        if (gone)
        {
            _gone.Add(region);
        }
        else
        {
            _gone.Remove(region);
        }
    }

    public void Reset()
    {
        try
        {
            model.Reset();
        }
        catch (Exception)
        {
            // A reset that fails is reported by a host, not counted: it is no access.
        }
    }

    public DeviceAccessStats Stats() => new()
    {
        DeviceId = "",
        Reads = _reads,
        Writes = _writes,
        BusErrors = _busErrors,
        AccessesAfterGone = _accessesAfterGone,
    };

    public ValueTask DisposeAsync()
    {
        (model as IDisposable)?.Dispose();
        return ValueTask.CompletedTask;
    }

    private void CountIfGone(int region)
    {
        if (_gone.Contains(region))
        {
            _accessesAfterGone++;
        }
    }
}
