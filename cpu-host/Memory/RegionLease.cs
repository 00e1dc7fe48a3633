namespace SplitEmu.CpuHost.Memory;

/// <summary>
/// The lease count of one region: how many accesses are using its dispatch target right now. One state word
/// (count plus a closing bit) updated by compare-exchange, in CPU-process memory only (a device cannot be
/// trusted to release anything). Like SafeHandle: no new lease once closing has begun; the last release
/// completes the drain; closing twice returns the same drain. See docs/memory-map.md.
/// </summary>
public sealed class RegionLease
{
    private const int ClosingBit = 1 << 30;
    private const int CountMask = ClosingBit - 1;

    /// <summary>Count of live leases in the low bits, <see cref="ClosingBit"/> once closing began.</summary>
    private int _state;

    /// <summary>Completed when closing has begun and the count is zero. Created before the closing bit is set.</summary>
    private TaskCompletionSource? _drained;

    /// <summary>
    /// Test seam, null in production (one predictable branch): the systematic concurrency tests (tests/Coyote,
    /// docs/testing-concurrency.md) set it to a scheduling point, called where this class reads shared state and
    /// then acts on what it read, so their scheduler can run another thread's step in that window. The
    /// compare-exchange loop and the publish-then-close order below are only tested by interleaving there.
    /// Never set outside those tests: it would run on every dispatch.
    /// </summary>
    internal static Action? InterleaveHook;

    /// <summary>Leases held right now.</summary>
    public int Count => Volatile.Read(ref _state) & CountMask;

    /// <summary>Whether closing has begun (no new lease will be granted).</summary>
    public bool IsClosing => (Volatile.Read(ref _state) & ClosingBit) != 0;

    /// <summary>Whether closing has begun and every lease was released.</summary>
    public bool IsDrained => Volatile.Read(ref _state) == ClosingBit;

    /// <summary>Takes a lease unless closing has begun. Lock-free; the dispatch path calls it per access.</summary>
    public bool TryAcquire()
    {
        int state = Volatile.Read(ref _state);
        while (true)
        {
            if ((state & ClosingBit) != 0)
            {
                return false;
            }

            System.Diagnostics.Debug.Assert((state & CountMask) < CountMask, "lease count overflow: leases are leaking");
            InterleaveHook?.Invoke();
            int seen = Interlocked.CompareExchange(ref _state, state + 1, state);
            if (seen == state)
            {
                return true;
            }

            state = seen;
        }
    }

    /// <summary>Releases a lease taken by <see cref="TryAcquire"/>; the last one after closing completes the drain.</summary>
    public void Release()
    {
        int state = Interlocked.Decrement(ref _state);
        System.Diagnostics.Debug.Assert((state & CountMask) != CountMask, "lease released more often than taken");
        if (state == ClosingBit)
        {
            // The drain's continuations run asynchronously (never inline on this, possibly vCPU, thread).
            _drained!.TrySetResult();
        }
    }

    /// <summary>
    /// Begins closing: no new lease after this returns. The task completes when the last lease is released
    /// (at once if none is held). Calling it again returns the same task.
    /// </summary>
    public Task CloseAsync()
    {
        TaskCompletionSource fresh = new(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource drained = Interlocked.CompareExchange(ref _drained, fresh, null) ?? fresh;
        InterleaveHook?.Invoke();
        int before = Interlocked.Or(ref _state, ClosingBit);
        if ((before & ClosingBit) == 0 && (before & CountMask) == 0)
        {
            drained.TrySetResult();
        }

        return drained.Task;
    }
}
