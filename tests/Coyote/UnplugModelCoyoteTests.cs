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
/// </remarks>
[Trait("Category", "Slow")] // thousands of systematic schedules: not in the fast tier
public sealed class UnplugModelCoyoteTests(ITestOutputHelper output)
{
    private const int Dispatchers = 2;

    [Fact]
    public void NoHandlerRuns_AfterTheDeviceWasToldItsRegionIsGone()
    {
        int completed = 0;
        CoyoteCheck.Check(nameof(NoHandlerRuns_AfterTheDeviceWasToldItsRegionIsGone), () =>
        {
            UnplugModel map = new();
            Task[] dispatchers = [.. Enumerable.Range(0, Dispatchers).Select(_ => Controlled.Run(() => map.Dispatch(accesses: 3)))];
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

    private sealed class ModelRegion
    {
        public RegionLease Lease { get; } = new();

        /// <summary>The device was told this region is gone (DeviceMap: NotifyRegionGone after the drain).</summary>
        public bool ToldGone { get; set; }
    }

    private sealed class UnplugModel
    {
        private ModelRegion? _view = new(); // the published flat view: one reference, swapped atomically
        private ModelRegion? _removed;
        private int _dispatchersDone;

        public int HandlerRunsAfterGone { get; private set; }

        /// <summary>MachineBus.Read/Write: look up, TryEnter (lease), handler, Leave (release).</summary>
        public void Dispatch(int accesses)
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
                SchedulingPoint.Interleave();
                region.Lease.Release();
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
                Specification.Assert(_dispatchersDone < Dispatchers, "(2) every dispatcher is done, yet the drain never completed");
                SchedulingPoint.Yield();
            }

            SchedulingPoint.Interleave();
            region.ToldGone = true;
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
