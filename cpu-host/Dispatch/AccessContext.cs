using SplitEmu.CpuHost.Memory;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// What the current thread is doing in dispatch: the regions it holds leases on (innermost last) and the work
/// deferred until its outermost access ends. This is how a map change asked for from inside a handler is
/// applied after the access released its lease but before the guest's next instruction, how a synchronous
/// unplug from inside an access is refused instead of deadlocking, and how re-entry into a device that is
/// handling an access on this thread is refused (QEMU's DMA re-entry bugs, CVE-2021-3750).
/// </summary>
public static class AccessContext
{
    [ThreadStatic]
    private static List<MemoryRegion>? s_held;

    [ThreadStatic]
    private static List<Action>? s_deferred;

    /// <summary>Whether this thread is inside an access (holds at least one lease).</summary>
    public static bool InAccess => s_held is { Count: > 0 };

    /// <summary>Whether this thread holds a lease on a region owned by <paramref name="owner"/>.</summary>
    public static bool HoldsRegionOf(DeviceHandle owner)
    {
        List<MemoryRegion>? held = s_held;
        if (held is null)
        {
            return false;
        }

        foreach (MemoryRegion region in held)
        {
            if (ReferenceEquals(region.Owner, owner))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether this thread holds a lease on <paramref name="region"/>.</summary>
    public static bool Holds(MemoryRegion region) => s_held?.Contains(region) == true;

    /// <summary>Records that this thread took a lease on <paramref name="region"/>.</summary>
    public static void Enter(MemoryRegion region) => (s_held ??= []).Add(region);

    /// <summary>Records the release of the innermost lease; runs deferred work if it was the outermost.</summary>
    public static void Exit()
    {
        List<MemoryRegion> held = s_held!;
        held.RemoveAt(held.Count - 1);
        if (held.Count == 0 && s_deferred is { Count: > 0 } deferred)
        {
            RunDeferred(deferred);
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> once this thread's outermost access has released its lease, or at once when
    /// the thread is not inside an access.
    /// </summary>
    public static void AfterAccess(Action work)
    {
        if (InAccess)
        {
            (s_deferred ??= []).Add(work);
        }
        else
        {
            work();
        }
    }

    private static void RunDeferred(List<Action> deferred)
    {
        // Work may defer more work (it runs outside any access, so that runs at once).
        Action[] batch = [.. deferred];
        deferred.Clear();
        foreach (Action work in batch)
        {
            work();
        }
    }
}
