using SplitEmu.CpuHost.Memory;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// A device running in the CPU process: accesses are direct calls, one at a time per device. A device model
/// that throws fails that access (a bus error) and is reported; it never takes the CPU process down.
/// </summary>
public sealed class InlineDevice
{
    private readonly Lock _gate = new();
    private long _reads;
    private long _writes;
    private long _failures;

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

    /// <summary>The dispatch target for the device's region <paramref name="region"/>.</summary>
    public IRegionHandler HandlerFor(int region) => new RegionHandler(this, region);

    /// <summary>Counters so far.</summary>
    public DeviceAccessStats Stats(long outputBytes) => new()
    {
        DeviceId = Id,
        Reads = Interlocked.Read(ref _reads),
        Writes = Interlocked.Read(ref _writes),
        BusErrors = Interlocked.Read(ref _failures),
        OutputBytes = outputBytes,
    };

    private ulong Read(int region, ulong offset, int size)
    {
        lock (_gate)
        {
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
    }
}
