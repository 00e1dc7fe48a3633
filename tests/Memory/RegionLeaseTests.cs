using SplitEmu.CpuHost.Memory;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Memory;

/// <summary>The lease state machine of a region: count, closing, drain.</summary>
public sealed class RegionLeaseTests
{
    [Fact]
    public void Close_WithNoLease_DrainsAtOnce()
    {
        RegionLease lease = new();

        Task drained = lease.CloseAsync();

        Assert.True(drained.IsCompleted);
        Assert.True(lease.IsDrained);
    }

    [Fact]
    public async Task Close_WithLeases_DrainsWhenTheLastIsReleased()
    {
        RegionLease lease = new();
        lease.TryAcquire();
        lease.TryAcquire();

        Task drained = lease.CloseAsync();
        lease.Release();
        bool afterFirstRelease = drained.IsCompleted;
        lease.Release();

        Assert.False(afterFirstRelease);
        await drained.WaitAsync(TestDeadlines.Seconds(5));
        Assert.Equal(0, lease.Count);
    }

    [Fact]
    public void NoLease_IsGranted_OnceClosingBegan()
    {
        RegionLease lease = new();
        lease.TryAcquire();
        _ = lease.CloseAsync();

        bool granted = lease.TryAcquire();

        Assert.False(granted);
        Assert.Equal(1, lease.Count);
    }

    [Fact]
    public void ClosingTwice_ReturnsTheSameDrain()
    {
        RegionLease lease = new();
        lease.TryAcquire();

        Task first = lease.CloseAsync();
        Task second = lease.CloseAsync();

        Assert.Same(first, second);
    }

    [Fact]
    public async Task DrainContinuation_DoesNotRunOnTheReleasingThread()
    {
        RegionLease lease = new();
        lease.TryAcquire();
        int continuationThread = -1;
        Task drained = lease.CloseAsync().ContinueWith(_ => continuationThread = Environment.CurrentManagedThreadId, TaskContinuationOptions.ExecuteSynchronously);
        int releasingThread = -1;

        Thread releaser = new(() =>
        {
            releasingThread = Environment.CurrentManagedThreadId;
            lease.Release();
            Thread.Sleep(100); // keep this thread busy: an inline continuation would have to run here first
        });
        releaser.Start();
        await drained.WaitAsync(TestDeadlines.Seconds(5));
        releaser.Join();

        Assert.NotEqual(releasingThread, continuationThread);
    }

    [Fact]
    public async Task RacingAcquireReleaseAndClose_NeverLeaksOrGrantsAfterClose()
    {
        const int Rounds = 2_000;
        for (int round = 0; round < Rounds; round++)
        {
            RegionLease lease = new();
            int grantedAfterClose = 0;
            int closed = 0;
            Parallel.Invoke(
                () =>
                {
                    for (int i = 0; i < 50; i++)
                    {
                        bool wasClosed = Volatile.Read(ref closed) == 1;
                        if (lease.TryAcquire())
                        {
                            if (wasClosed)
                            {
                                Interlocked.Increment(ref grantedAfterClose);
                            }

                            lease.Release();
                        }
                    }
                },
                () =>
                {
                    _ = lease.CloseAsync();
                    Volatile.Write(ref closed, 1);
                });

            Assert.Equal(0, grantedAfterClose);
            await lease.CloseAsync().WaitAsync(TestDeadlines.Seconds(5));
            Assert.Equal(0, lease.Count);
        }
    }
}
