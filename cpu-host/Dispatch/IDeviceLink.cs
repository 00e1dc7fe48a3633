using SplitEmu.CpuHost.Memory;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>How the map reaches one device, inline or in a device process: dispatch targets and control.</summary>
public interface IDeviceLink
{
    /// <summary>The dispatch target for region <paramref name="region"/>.</summary>
    IRegionHandler HandlerFor(int region);

    /// <summary>
    /// Waits until every request sent to the device before this call was handled (a barrier through its ring).
    /// False if the device is dead or did not answer in time.
    /// </summary>
    bool Barrier();

    /// <summary>Tells the device region <paramref name="region"/> left the map (after it drained). False if it could not be told.</summary>
    bool NotifyRegionGone(int region);

    /// <summary>Tells the device region <paramref name="region"/> is about to be mapped again.</summary>
    bool NotifyRegionBack(int region);

    /// <summary>Stops a device that missed a deadline, for certain, before anything it holds is released.</summary>
    void StopHungDevice(string why);

    /// <summary>
    /// The device is leaving the map (true) or rejoining it (false): while it is leaving, accesses that wait for
    /// its process to be restarted end as bus errors instead.
    /// </summary>
    void SetAbandoned(bool abandoned);

    /// <summary>Whether the device can be stopped by force (a process can; inline code cannot).</summary>
    bool CanBeStopped { get; }
}
