using System.Runtime.CompilerServices;

namespace SplitEmu.CpuHost.Cpu;

// Staying coherent with the other CPUs of the domain: code pages they mark, code they write, serializing instructions.
public sealed partial class X86Cpu
{
    /// <summary>Unsettled code pages remembered one by one; beyond this the whole code cache goes at serialization.</summary>
    private const int MaxUnsettledPages = 16;

    /// <summary>
    /// Pages this CPU decoded code from before every other running CPU acknowledged that they had become code (one of
    /// them may have written them through a direct TLB entry unseen): their code goes at the next serializing
    /// instruction, and they stay here until they are settled.
    /// </summary>
    private readonly ulong[] _unsettledPages = new ulong[MaxUnsettledPages];
    /// <summary>Entries of <see cref="_unsettledPages"/> in use; above <see cref="MaxUnsettledPages"/> when some were not recorded.</summary>
    private int _unsettledCount;

    /// <summary>Whether <see cref="Run"/> is executing (a CPU outside Run writes no guest memory). Any thread.</summary>
    internal bool IsRunning => Volatile.Read(ref _running) != 0;

    /// <summary>The domain epoch this CPU has caught up with (see <see cref="_acknowledgedCodeEpoch"/>). Any thread.</summary>
    internal int AcknowledgedCodeEpoch => Volatile.Read(ref _acknowledgedCodeEpoch);

    /// <summary>A page of the domain became code: catch up at the next instruction boundary. Thread-safe.</summary>
    internal void NotifyCodePageMarked() => _eventsPending = 1;

    /// <summary>At an instruction boundary: drops direct-write TLB entries for pages that are now code somewhere.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AcknowledgeCodePages()
    {
        // The epoch first: every page that had become code by then has its holder bit set already (the domain sets the
        // bit before it bumps the epoch), so the scan below sees it.
        int epoch = _domain.Epoch;
        _tlb.DropWritesToCodePages(_domain);
        Volatile.Write(ref _acknowledgedCodeEpoch, epoch);
    }

    /// <summary>This CPU starts caching code from <paramref name="physical"/>'s page (decoded or translated).</summary>
    private void MarkCodePage(ulong physical)
    {
        _codeCache.MarkCodePage(physical);
        _tlb.DropWritesToPhysicalPage(physical);
        if (_domain.IsSettled(physical, this))
            return;
        ulong page = physical & ~0xFFFUL;
        for (int k = 0; k < Math.Min(_unsettledCount, MaxUnsettledPages); k++)
        {
            if (_unsettledPages[k] == page)
                return;
        }
        if (_unsettledCount < MaxUnsettledPages)
            _unsettledPages[_unsettledCount] = page;
        _unsettledCount = Math.Min(_unsettledCount + 1, MaxUnsettledPages + 1);
    }

    /// <summary>
    /// Called by serializing instructions before they run: code fetched after them sees every write that happened
    /// before them (Intel SDM vol. 3 8.1.3), also another CPU's. Applies the writes other CPUs and DMA queued for this
    /// CPU and drops the code of unsettled pages, so it is decoded again from RAM.
    /// </summary>
    private void SerializeInstructionFetch()
    {
        Interlocked.MemoryBarrier(); // pairs with the writer's stores: what it wrote before its flag is read after ours
        bool dropped = false;
        if (_invalidationsPending)
        {
            _invalidationsPending = false;
            _pendingInvalidations.Drain(_codeCache);
            dropped = true;
        }
        if (_unsettledCount != 0)
        {
            DropUnsettledCode();
            dropped = true;
        }
        if (dropped && _translations is not null)
            _eventsPending = 1; // the running block may hold code just dropped: leave it after this instruction
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DropUnsettledCode()
    {
        if (_unsettledCount > MaxUnsettledPages)
        {
            _unsettledCount = 0;
            _codeCache.Clear();
            return;
        }
        int kept = 0;
        for (int k = 0; k < _unsettledCount; k++)
        {
            ulong page = _unsettledPages[k];
            // Settled first, then dropped: what is decoded after the drop can only go stale by reported writes.
            bool settled = _domain.IsSettled(page, this);
            _codeCache.Invalidate(page, 0x1000);
            if (!settled)
                _unsettledPages[kept++] = page;
        }
        _unsettledCount = kept;
    }

    /// <summary>
    /// After a write of <paramref name="size"/> bytes at <paramref name="physical"/> to a page some CPU of the domain
    /// has code from (<paramref name="holders"/>): drops this CPU's decodings there and queues the write on the others.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void OnCodeWritten(ulong physical, int size, int holders)
    {
        int self = 1 << _cpuIndex;
        if ((holders & self) != 0)
        {
            _codeCache.Invalidate(physical, size);
            if (_translations is not null)
                _eventsPending = 1; // a translated block may be running this code: leave it after this instruction
        }
        if ((holders & ~self) != 0)
            _domain.NotifyCodeWritten(physical, size, holders & ~self);
    }

    /// <summary>The holders of the code a write at <paramref name="physical"/> may change (an instruction may start 14 bytes before).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int CodeHoldersAt(ulong physical) => _domain.Holders(physical) | _domain.Holders(physical - 14);
}
