namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// Which devices of this process did DMA since their last reply. The serving thread marks that device's next
/// reply (<see cref="Shared.Transport.ReplyFlags.DidDma"/>), and the CPU then snapshots the device so that a
/// crash never replays a DMA against guest memory that has changed since.
/// </summary>
public sealed class DmaActivity
{
    private long _devices;

    /// <summary>Device <paramref name="device"/> moved bytes (any thread of the process).</summary>
    public void Happened(int device) => Interlocked.Or(ref _devices, Bit(device));

    /// <summary>Whether device <paramref name="device"/> did since the last call, and forget it.</summary>
    public bool TakeHappened(int device)
    {
        long bit = Bit(device);
        return (Interlocked.And(ref _devices, ~bit) & bit) != 0;
    }

    /// <summary>One bit per device; a process with more than 64 devices shares the last bit (an extra snapshot at worst).</summary>
    private static long Bit(int device) => 1L << Math.Min(device, 63);
}
