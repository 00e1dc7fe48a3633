using System.Runtime.CompilerServices;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Common;

/// <summary>
/// How a host calls one device model, whichever process it runs in (inline in the CPU process, or served over a
/// ring in a device process): the one place that counts its accesses, keeps the regions it was told are gone
/// (<see cref="RegionsTold"/>), and turns a model's exception into a failed access (a bus error for the guest)
/// that is counted and reported, never one that takes the host down. The hosts differ only in how an access
/// reaches them and how its answer goes back (and a device process tells its devices' contexts, around the call,
/// when the access was made and whether the guest waits for it). Not thread-safe: the host makes one call at a time, as <see cref="IDevice"/> promises its models
/// (the inline device's lock, the device process's serving thread); the counters may be read from any thread.
/// </summary>
public sealed class DeviceInvoker
{
    /// <summary><see cref="Input"/>'s answer when the device has no receive side, or its model failed taking the bytes.</summary>
    public const int InputRefused = -1;

    /// <summary>The model's region count (fixed after construction): an access to a region past it fails.</summary>
    private readonly int _regionCount;

    /// <summary>Regions the device was told are gone, and accesses that reached it anyway.</summary>
    private readonly RegionsTold _regionsTold = new();

    /// <summary>Reads the model answered.</summary>
    private long _reads;

    /// <summary>Writes (posted or not) the model took.</summary>
    private long _writes;

    /// <summary>Accesses that failed: the model threw, or they named a region it does not have.</summary>
    private long _failures;

    /// <summary>Calls <paramref name="device"/>, whose profile id is <paramref name="deviceId"/>.</summary>
    public DeviceInvoker(string deviceId, IDevice device)
    {
        DeviceId = deviceId;
        Device = device;
        _regionCount = device.Regions.Count;
    }

    /// <summary>The device's id from the profile (names it in reports).</summary>
    public string DeviceId { get; }

    /// <summary>The model.</summary>
    public IDevice Device { get; }

    /// <summary>Accesses that reached the device after it was told their region is gone (must stay 0).</summary>
    public long AccessesAfterGone => _regionsTold.AccessesAfterGone;

    /// <summary>
    /// A guest read of <paramref name="size"/> bytes at <paramref name="offset"/> of region <paramref name="region"/>.
    /// False when it failed: the host answers with a bus error (all ones).
    /// </summary>
    public bool TryRead(int region, ulong offset, int size, out ulong value)
    {
        if (!Admit(region))
        {
            value = 0;
            return false;
        }

        try
        {
            value = Device.Read(region, offset, size);
        }
        catch (Exception ex)
        {
            AccessFailed("read", region, offset, ex);
            value = 0;
            return false;
        }

        _reads++;
        return true;
    }

    /// <summary>
    /// A guest write (posted or not), as <see cref="TryRead"/>. False when it failed: the write is dropped.
    /// </summary>
    public bool TryWrite(int region, ulong offset, int size, ulong value)
    {
        if (!Admit(region))
        {
            return false;
        }

        try
        {
            Device.Write(region, offset, size, value);
        }
        catch (Exception ex)
        {
            AccessFailed("write", region, offset, ex);
            return false;
        }

        _writes++;
        return true;
    }

    /// <summary>
    /// An access the host cannot make (a request of no access kind): it reached the device's region
    /// <paramref name="region"/> and failed.
    /// </summary>
    public void RefuseAccess(int region)
    {
        _regionsTold.CountAccess(region);
        _failures++;
    }

    /// <summary>
    /// Console input through region <paramref name="region"/>, like an access: returns how many leading bytes of
    /// <paramref name="data"/> the device took (0 when it has no room), or <see cref="InputRefused"/>.
    /// </summary>
    public int Input(int region, ReadOnlySpan<byte> data)
    {
        if (Device is not IConsoleInput input)
        {
            return InputRefused;
        }

        _regionsTold.CountAccess(region);
        try
        {
            return Math.Clamp(input.AcceptInput(data), 0, data.Length);
        }
        catch (Exception ex)
        {
            _failures++;
            Report("console input", ex);
            return InputRefused;
        }
    }

    /// <summary>
    /// The device's timer fired at <paramref name="now"/>: runs its callback, between accesses (outside any access
    /// handler). A failing callback is reported; it is no access, so no bus error is counted.
    /// </summary>
    public void RunTimer(long now)
    {
        if (Device is not ITimedDevice timed)
        {
            return;
        }

        try
        {
            timed.OnTimer(now);
        }
        catch (Exception ex)
        {
            Report("timer", ex);
        }
    }

    /// <summary>A machine reset: the device back to its power-on state. False, reported, when the model failed.</summary>
    public bool Reset()
    {
        try
        {
            Device.Reset();
            return true;
        }
        catch (Exception ex)
        {
            Report("reset", ex);
            return false;
        }
    }

    /// <summary>Records that region <paramref name="region"/> left (<paramref name="gone"/>) or rejoined the map.</summary>
    public void SetRegionGone(int region, bool gone) => _regionsTold.Set(region, gone);

    /// <summary>The counters as a wire record; <paramref name="outputBytes"/> is what the host counted of the device's output.</summary>
    public DeviceAccessStats ToStats(long outputBytes) => new()
    {
        DeviceId = DeviceId,
        Reads = Interlocked.Read(ref _reads),
        Writes = Interlocked.Read(ref _writes),
        BusErrors = Interlocked.Read(ref _failures),
        OutputBytes = outputBytes,
        AccessesAfterGone = AccessesAfterGone,
    };

    /// <summary>Counts an access to <paramref name="region"/>; false, counted as failed, when the model has no such region.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Admit(int region)
    {
        _regionsTold.CountAccess(region);
        if ((uint)region >= (uint)_regionCount)
        {
            _failures++;
            return false;
        }

        return true;
    }

    /// <summary>The model threw handling an access: counted, and reported with where it went (off the hot path).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AccessFailed(string kind, int region, ulong offset, Exception ex)
    {
        _failures++;
        Report($"{kind} of region {region} at offset 0x{offset:X}", ex);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Report(string what, Exception ex)
    {
        Console.Error.WriteLine($"device {DeviceId}: {what}: {ex.GetType().Name}: {ex.Message}");
    }
}
