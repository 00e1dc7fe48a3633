using SplitEmu.Shared.Transport;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// What each device of this process did since its last reply that a replay of its journal would not do the same:
/// DMA (<see cref="ReplyFlags.DidDma"/>: replayed, it would move guest memory as it is now) and acting on state from
/// outside the machine (<see cref="ReplyFlags.ActedOnOutsideState"/>: its output's back-pressure). The serving
/// thread marks the device's next reply, and the CPU then snapshots the device, so its journal starts after it.
/// </summary>
public sealed class UnjournaledActivity
{
    private long _dma;
    private long _outsideState;

    /// <summary>Device <paramref name="device"/> moved bytes by DMA (any thread of the process).</summary>
    public void DidDma(int device) => Interlocked.Or(ref _dma, Bit(device));

    /// <summary>Device <paramref name="device"/> acted on state from outside the machine (any thread of the process).</summary>
    public void ActedOnOutsideState(int device) => Interlocked.Or(ref _outsideState, Bit(device));

    /// <summary>What device <paramref name="device"/> did since the last call, as reply flags; and forget it.</summary>
    public ReplyFlags Take(int device)
    {
        long bit = Bit(device);
        ReplyFlags flags = (Interlocked.And(ref _dma, ~bit) & bit) != 0 ? ReplyFlags.DidDma : ReplyFlags.None;
        return (Interlocked.And(ref _outsideState, ~bit) & bit) != 0 ? flags | ReplyFlags.ActedOnOutsideState : flags;
    }

    /// <summary>One bit per device; a process with more than 64 devices shares the last bit (an extra snapshot at worst).</summary>
    private static long Bit(int device) => 1L << Math.Min(device, 63);
}
