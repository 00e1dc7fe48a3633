using Microsoft.Coyote.Runtime;
using Microsoft.Coyote.Specifications;
using SplitEmu.CpuHost.Memory;
using Xunit.Abstractions;

namespace SplitEmu.Tests.Coyote;

/// <summary>
/// A small model of DeviceMap's unplug path (cpu-host/Machine/DeviceMap.cs) on the real <see cref="RegionLease"/>:
/// dispatchers look up the published view, take the region's lease and run the handler; an unplugger publishes a
/// view without the region, closes its lease, waits for the drain, tells the device the region is gone, re-plugs a
/// fresh region and unplugs again. Checked: no handler runs on a region after its device was told it is gone
/// (DESIGN.md section 3, invariant 2), and every drain completes once the dispatchers are done.
/// </summary>
/// <remarks>
/// The model leaves out the ring barrier and the deadline (no device process here); UnplugTests covers those with
/// a real one. It can fail: with the close and drain wait removed from Unplug (the device told right after the
/// view was published), Coyote found a handler run after "gone" on the 1st schedule (experiment of 2026-11-25).
/// <para>
/// With several vCPUs (issue 19) the dispatchers are vCPU threads, 2 to 4 of them, and one of them may ask for the
/// unplug from inside the device's own handler, as a device asks for a map change while it serves an access: the
/// request runs after that vCPU's access ends (DeviceMap defers it with AccessContext.AfterAccess, per thread), then
/// waits for the other vCPUs' leases. Checked as well: that unplug never waits for its own lease (no deadlock).
/// With the unplug run inside the handler instead (before the vCPU's lease is released), Coyote reports "(2) every
/// dispatcher is done, yet the drain never completed" on the 1st schedule (experiment of 2026-12-05).
/// </para>
/// </remarks>
[Trait("Category", "Slow")] // thousands of systematic schedules: not in the fast tier
public sealed class UnplugModelCoyoteTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void NoHandlerRuns_AfterTheDeviceWasToldItsRegionIsGone(int vcpus)
    {
        int completed = 0;
        CoyoteCheck.Check($"{nameof(NoHandlerRuns_AfterTheDeviceWasToldItsRegionIsGone)}({vcpus})", () =>
        {
            UnplugModel map = new(vcpus);
            Task[] dispatchers = [.. Enumerable.Range(0, vcpus).Select(_ => Controlled.Run(() => map.Dispatch(accesses: 3)))];
            Task unplugger = Controlled.Run(() =>
            {
                map.Unplug();
                map.Replug();
                map.Unplug();
            });
            Controlled.WaitAll([.. dispatchers, unplugger]);
            Specification.Assert(map.HandlerRunsAfterGone == 0, "(5) {0} handler run(s) after the device was told gone", map.HandlerRunsAfterGone);
            completed++;
        }, iterations: 1_000, output);
        output.WriteLine($"schedules that ran to the end: {completed}");
        Assert.True(completed > 0, "no schedule ran to the end (all were cut at Coyote's step bound)");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void AVcpuUnplugsTheDeviceFromInsideItsHandler_WhileOthersAccessIt_WithoutDeadlock(int vcpus)
    {
        int completed = 0;
        CoyoteCheck.Check($"{nameof(AVcpuUnplugsTheDeviceFromInsideItsHandler_WhileOthersAccessIt_WithoutDeadlock)}({vcpus})", () =>
        {
            UnplugModel map = new(vcpus);
            Task unplugging = Controlled.Run(() => map.Dispatch(accesses: 2, unplugFromHandler: true));
            Task[] others = [.. Enumerable.Range(1, vcpus - 1).Select(_ => Controlled.Run(() => map.Dispatch(accesses: 3)))];
            Controlled.WaitAll([unplugging, .. others]);
            Specification.Assert(map.Unplugs == 1, "the unplug asked for from inside the handler ran {0} time(s)", map.Unplugs);
            Specification.Assert(map.HandlerRunsAfterGone == 0, "(5) {0} handler run(s) after the device was told gone", map.HandlerRunsAfterGone);
            completed++;
        }, iterations: 1_000, output);
        output.WriteLine($"schedules that ran to the end: {completed}");
        Assert.True(completed > 0, "no schedule ran to the end (all were cut at Coyote's step bound)");
    }

    private sealed class ModelRegion
    {
        public RegionLease Lease { get; } = new();

        /// <summary>The device was told this region is gone (DeviceMap: NotifyRegionGone after the drain).</summary>
        public bool ToldGone { get; set; }
    }

    private sealed class UnplugModel(int dispatchers)
    {
        private ModelRegion? _view = new(); // the published flat view: one reference, swapped atomically
        private ModelRegion? _removed;
        private int _dispatchersDone;

        public int HandlerRunsAfterGone { get; private set; }

        /// <summary>Unplugs that ran to the end.</summary>
        public int Unplugs { get; private set; }

        /// <summary>
        /// MachineBus.Read/Write on one vCPU: look up, TryEnter (lease), handler, Leave (release). With
        /// <paramref name="unplugFromHandler"/>, the handler of the first access that reaches the region asks for the
        /// unplug, which runs once the access has ended (AccessContext.AfterAccess) on this vCPU's thread.
        /// </summary>
        public void Dispatch(int accesses, bool unplugFromHandler = false)
        {
            for (int i = 0; i < accesses; i++)
            {
                SchedulingPoint.Interleave();
                ModelRegion? region = Volatile.Read(ref _view);
                if (region is null)
                {
                    continue; // no region: all ones
                }

                SchedulingPoint.Interleave(); // looked up the old view: may still reach the region (invariant 5)
                if (!region.Lease.TryAcquire())
                {
                    continue; // closing began: bus error / all ones
                }

                SchedulingPoint.Interleave();
                if (region.ToldGone)
                {
                    HandlerRunsAfterGone++;
                }

                Specification.Assert(!region.ToldGone, "(5) a handler ran after the device was told its region is gone");
                bool unplugAfterAccess = unplugFromHandler && Unplugs == 0 && ReferenceEquals(region, _view);
                SchedulingPoint.Interleave();
                region.Lease.Release();
                if (unplugAfterAccess)
                {
                    // The deferred request: this vCPU holds no lease now, so the drain waits only for the others.
                    unplugFromHandler = false;
                    _dispatchersDone++; // not dispatching while it waits
                    Unplug();
                    _dispatchersDone--;
                }
            }

            _dispatchersDone++;
        }

        /// <summary>DeviceMap.UnplugAsync: publish, close, drain, (barrier,) tell the device.</summary>
        public void Unplug()
        {
            SchedulingPoint.Interleave();
            ModelRegion region = _view!;
            Volatile.Write(ref _view, null);
            _removed = region;
            Task drain = region.Lease.CloseAsync();
            Specification.Assert(ReferenceEquals(drain, region.Lease.CloseAsync()), "(3) unplugging twice returned another drain");
            while (!drain.IsCompleted)
            {
                Specification.Assert(_dispatchersDone < dispatchers, "(2) every dispatcher is done, yet the drain never completed");
                SchedulingPoint.Yield();
            }

            SchedulingPoint.Interleave();
            region.ToldGone = true;
            Unplugs++;
        }

        /// <summary>DeviceMap.Replug: a fresh region object (the removed one's lease stays closed for good).</summary>
        public void Replug()
        {
            SchedulingPoint.Interleave();
            Specification.Assert(_removed is { Lease.IsDrained: true }, "re-plug before the drain completed");
            Volatile.Write(ref _view, new ModelRegion());
        }
    }
}
