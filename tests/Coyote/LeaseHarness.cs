using Microsoft.Coyote.Runtime;
using Microsoft.Coyote.Specifications;
using SplitEmu.CpuHost.Memory;

namespace SplitEmu.Tests.Coyote;

/// <summary>
/// A <see cref="RegionLease"/> with ghost state kept exactly in step with it, and the invariants checked after
/// every operation. Exact because under Coyote only one task runs between two scheduling points: the ghost update
/// next to a lease call happens atomically with the call's own atomic step (the compare-exchange that grants, the
/// decrement, the Or that begins closing), as no scheduling point separates them.
/// </summary>
internal sealed class LeaseHarness
{
    public RegionLease Lease { get; } = new();

    /// <summary>Leases the test holds: +1 when TryAcquire returned true, -1 right before Release.</summary>
    public int Holders { get; private set; }

    /// <summary>Set when CloseAsync returned; its Or is its last step, with no scheduling point after it.</summary>
    public bool ClosingBegun { get; private set; }

    /// <summary>The drain the first CloseAsync returned.</summary>
    public Task? Drain { get; private set; }

    /// <summary>TryAcquire calls that began before closing yet were refused: closing began inside them.</summary>
    public int RefusedAfterClosingBeganInside { get; private set; }

    /// <summary>Takes a lease with the hook's scheduling point inside; checks property (1).</summary>
    public bool Acquire()
    {
        SchedulingPoint.Interleave();
        bool closingBefore = ClosingBegun;
        bool granted = Lease.TryAcquire();
        if (granted)
        {
            // (1) The grant's compare-exchange ran after closing began iff ClosingBegun is true now.
            Specification.Assert(!ClosingBegun, "(1) a lease was granted after closing had begun");
            Holders++;
        }
        else
        {
            Specification.Assert(ClosingBegun, "a lease was refused although closing had not begun");
            if (!closingBefore)
            {
                RefusedAfterClosingBeganInside++;
            }
        }

        CheckInvariants();
        return granted;
    }

    /// <summary>Gives back a lease taken by <see cref="Acquire"/>.</summary>
    public void Release()
    {
        SchedulingPoint.Interleave();
        Holders--;
        Lease.Release();
        CheckInvariants();
    }

    /// <summary>Begins closing (again); checks property (3): every call returns the first call's drain.</summary>
    public Task Close()
    {
        SchedulingPoint.Interleave();
        Task drain = Lease.CloseAsync();
        ClosingBegun = true;
        Drain ??= drain;
        Specification.Assert(ReferenceEquals(drain, Drain), "(3) closing again returned a different drain");
        CheckInvariants();
        return drain;
    }

    /// <summary>(2) and (4) in every reachable state: the count is the holders, the drain completes exactly when due.</summary>
    public void CheckInvariants()
    {
        int count = Lease.Count;
        Specification.Assert(count == Holders, "(4) the lease count is {0} but {1} lease(s) are held", count, Holders);
        Specification.Assert(Lease.IsClosing == ClosingBegun, "IsClosing is {0} but closing began: {1}", Lease.IsClosing, ClosingBegun);
        bool due = ClosingBegun && Holders == 0;
        Specification.Assert(Lease.IsDrained == due, "IsDrained is {0} but closing began: {1}, holders: {2}", Lease.IsDrained, ClosingBegun, Holders);
        if (Drain is { } drain)
        {
            Specification.Assert(
                drain.IsCompleted == due,
                "(2) the drain is {0} with closing begun: {1} and {2} lease(s) held",
                drain.IsCompleted ? "complete" : "not complete",
                ClosingBegun,
                Holders);
            Specification.Assert(!drain.IsFaulted && !drain.IsCanceled, "(2) the drain faulted or was canceled");
        }
    }

    /// <summary>Once every task is done: nothing leaked, and the drain completed (no lost completion).</summary>
    public void CheckQuiescent()
    {
        CheckInvariants();
        Specification.Assert(Holders == 0 && Lease.Count == 0, "(4) {0} lease(s) leaked", Lease.Count);
        if (ClosingBegun)
        {
            Specification.Assert(Lease.IsDrained, "(4) closed and released but not drained");
            Specification.Assert(Drain is { IsCompletedSuccessfully: true }, "(2) every lease was released after closing, yet the drain never completed");
        }
    }
}
