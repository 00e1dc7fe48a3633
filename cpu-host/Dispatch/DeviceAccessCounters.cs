namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// One device's guest accesses as the CPU process served them, over all incarnations of its process (a restart
/// does not reset them: the monitor's `info stats` and the run report count the same accesses). Replayed
/// journal entries are not guest accesses and are not counted.
/// </summary>
internal sealed class DeviceAccessCounters
{
    public long Reads;
    public long Writes;
    public long BusErrors;
}
