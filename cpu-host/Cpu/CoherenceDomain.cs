namespace SplitEmu.CpuHost.Cpu;

/// <summary>
/// What the CPUs of one machine share so that they stay coherent on one guest RAM: which CPUs have decoded or
/// translated code from which physical page (so a write by one drops the others' stale code), and the split lock
/// for atomic operations a host compare-and-swap cannot do. Give every <see cref="X86Cpu"/> of a machine the same
/// instance (<see cref="X86Cpu(ICpuBus, CoherenceDomain)"/>); a CPU made without one gets a domain of its own.
/// </summary>
/// <remarks>
/// <para>
/// Code pages. A CPU that first caches code from a page marks it here. While a page has a holder, no CPU of the
/// domain keeps a direct-write TLB entry for it, so every write to it takes the slow path, which queues the write
/// on each holder (<see cref="X86Cpu.InvalidateCode"/>, applied at that CPU's next instruction boundary). When a
/// page becomes code (no holder before), the domain's epoch moves on and every CPU is nudged: at its next
/// instruction boundary it drops its direct-write entries for code pages and acknowledges the epoch.
/// </para>
/// <para>
/// The race this leaves: until every other running CPU has acknowledged the epoch in which a page became code, one
/// of them may still write it through a direct entry it took before (or in the middle of the instruction it was
/// running), and nobody is told. A CPU that decodes from such an unacknowledged page remembers it as unsettled; at
/// its next serializing instruction (CPUID, IRET, far JMP/CALL/RET, MOV to CR, LGDT/LIDT/LLDT/LTR, INVLPG, INVD,
/// WBINVD, WRMSR) it drops its code from the unsettled pages (and applies the invalidations already queued for it),
/// so the code it fetches after that instruction is read from RAM again. That is Intel's cross-modifying-code rule
/// (SDM vol. 3 8.1.3): the executing CPU may run stale code until it executes a serializing instruction after the
/// modification, never after. A CPU outside <see cref="X86Cpu.Run"/> counts as having acknowledged: it catches up
/// before its next instruction.
/// </para>
/// <para>
/// Split lock. A LOCK'ed operand that is not contained in one aligned unit of up to 8 bytes in one RAM page
/// (it crosses a page or an 8-byte boundary, or is MMIO or ROM) is read, computed and written under
/// <see cref="SplitLock"/>. That is atomic against every other split-locked operation of the domain, not against a
/// compare-and-swap on an overlapping aligned part of it (which x86 only promises for operands in one cache line
/// anyway) nor against plain stores. The cross-CPU guarantees assume a host whose plain loads and stores are
/// ordered as x86's are (x86-64): guest memory accesses are plain host accesses.
/// </para>
/// </remarks>
public sealed class CoherenceDomain
{
    /// <summary>CPUs one domain can hold (a bit each in a page's holder mask).</summary>
    public const int MaxCpus = 32;

    /// <summary>Code pages are tracked for the first 4 GiB of physical space (as in the decoded-instruction cache).</summary>
    private const ulong TrackedPhysicalLimit = 1UL << 32;

    /// <summary>Pages per chunk of the per-page tables: 4 MiB of physical space, 4 KiB of table each.</summary>
    private const int PagesPerChunk = 1024;

    /// <summary>
    /// Per 4 KiB physical page, in chunks made when a page in them first becomes code (a machine runs code from a
    /// few MiB, so the tables cost kilobytes instead of two 4 MiB arrays per CPU domain): a bit per CPU index that
    /// may have code cached from the page. A missing chunk reads as no holders.
    /// </summary>
    private readonly int[]?[] _holders = new int[]?[(TrackedPhysicalLimit >> 12) / PagesPerChunk];
    /// <summary>Per 4 KiB physical page, chunked like <see cref="_holders"/>: the epoch in which it last became code (had no holder before).</summary>
    private readonly int[]?[] _markEpochs = new int[]?[(TrackedPhysicalLimit >> 12) / PagesPerChunk];
    private readonly X86Cpu?[] _cpus = new X86Cpu?[MaxCpus];
    /// <summary>Attached CPUs; <see cref="_cpus"/> is filled up to it (written before the count is published).</summary>
    private int _cpuCount;
    /// <summary>Pages that became code so far: bumped after the page's holder bit is set (pairs with <see cref="X86Cpu"/>'s acknowledgment).</summary>
    private int _epoch;
    /// <summary>Every epoch up to this one is acknowledged by every CPU (only grows; a cache of <see cref="RefreshSettledEpoch"/>).</summary>
    private int _settledEpoch;
    private readonly object _markLock = new();

    /// <summary>Taken by a locked read-modify-write whose operand a host compare-and-swap cannot cover (see the remarks).</summary>
    public object SplitLock { get; } = new();

    /// <summary>CPUs attached so far.</summary>
    public int CpuCount => Volatile.Read(ref _cpuCount);

    /// <summary>
    /// Reports a write to guest RAM by something other than the domain's CPUs (DMA): every CPU drops its cached code
    /// there at its next instruction boundary. Thread-safe.
    /// </summary>
    public void InvalidateCode(ulong physicalAddress, int length)
    {
        int count = CpuCount;
        for (int i = 0; i < count; i++)
            _cpus[i]!.InvalidateCode(physicalAddress, length);
    }

    /// <summary>Queues a write on the CPUs in <paramref name="cpuMask"/> (a bit per index): they drop their code there.</summary>
    internal void NotifyCodeWritten(ulong physicalAddress, int length, int cpuMask)
    {
        for (int rest = cpuMask; rest != 0; rest &= rest - 1)
            _cpus[System.Numerics.BitOperations.TrailingZeroCount(rest)]?.InvalidateCode(physicalAddress, length);
    }

    /// <summary>Adds a CPU; its index names its bit in the holder masks. Called by the X86Cpu constructor.</summary>
    internal int Attach(X86Cpu cpu)
    {
        lock (_markLock)
        {
            if (_cpuCount == MaxCpus)
                throw new InvalidOperationException($"a coherence domain holds at most {MaxCpus} CPUs");
            _cpus[_cpuCount] = cpu;
            Volatile.Write(ref _cpuCount, _cpuCount + 1);
            return _cpuCount - 1;
        }
    }

    /// <summary>The epoch: how many times a page became code. Read by CPUs to see whether they must acknowledge.</summary>
    internal int Epoch => Volatile.Read(ref _epoch);

    /// <summary>The holder mask of the page of <paramref name="physicalAddress"/> (0 above 4 GiB, where code is not cached).</summary>
    internal int Holders(ulong physicalAddress)
    {
        if (physicalAddress >= TrackedPhysicalLimit)
            return 0;
        ulong page = physicalAddress >> 12;
        int[]? chunk = Volatile.Read(ref _holders[page / PagesPerChunk]);
        return chunk is null ? 0 : Volatile.Read(ref chunk[page % PagesPerChunk]);
    }

    /// <summary>Whether any CPU of the domain may have code cached from the page (direct writes to it are not allowed).</summary>
    internal bool IsCodePage(ulong physicalAddress) => Holders(physicalAddress) != 0;

    /// <summary>
    /// Records that CPU <paramref name="cpuIndex"/> caches code from the page of <paramref name="physicalAddress"/>
    /// (below 4 GiB). When the page had no holder, a new epoch starts and every CPU is nudged to drop its direct-write
    /// TLB entries for code pages and acknowledge it.
    /// </summary>
    internal void MarkCodePage(ulong physicalAddress, int cpuIndex)
    {
        ulong page = physicalAddress >> 12;
        int bit = 1 << cpuIndex;
        if ((Holders(physicalAddress) & bit) != 0)
            return;
        bool becameCode;
        lock (_markLock)
        {
            // Under the lock only so that the page's epoch is written before its holder bit can be seen (a CPU that
            // becomes a second holder reads the epoch after its own Or) and the epoch is bumped after it (a CPU that
            // reads the epoch, then scans its TLB, sees the bit): a release clears bits without the lock.
            int chunkIndex = (int)(page / PagesPerChunk), inChunk = (int)(page % PagesPerChunk);
            int[] holders = _holders[chunkIndex] ?? MakeChunks(chunkIndex);
            int[] markEpochs = _markEpochs[chunkIndex]!;
            int next = _epoch + 1;
            int before = holders[inChunk];
            if (before == 0)
                Volatile.Write(ref markEpochs[inChunk], next);
            before = Interlocked.Or(ref holders[inChunk], bit);
            becameCode = before == 0;
            if (becameCode)
                Interlocked.Exchange(ref _epoch, next); // a full fence: the bit is visible before the epoch
        }
        if (!becameCode)
            return;
        int count = CpuCount;
        for (int i = 0; i < count; i++)
            _cpus[i]!.NotifyCodePageMarked();
    }

    /// <summary>Makes the two tables' chunk <paramref name="chunkIndex"/> (under the mark lock); the epochs' first, so a holders' chunk seen has its epochs.</summary>
    private int[] MakeChunks(int chunkIndex)
    {
        Volatile.Write(ref _markEpochs[chunkIndex], new int[PagesPerChunk]);
        int[] holders = new int[PagesPerChunk];
        Volatile.Write(ref _holders[chunkIndex], holders);
        return holders;
    }

    /// <summary>
    /// Drops CPU <paramref name="cpuIndex"/>'s holder bit from every page <paramref name="localPages"/> (that CPU's
    /// own byte-per-page map) marks: it has dropped all its cached code. A page left with no holder may be written
    /// directly again.
    /// </summary>
    internal void ReleaseAll(ReadOnlySpan<byte> localPages, int cpuIndex)
    {
        int keep = ~(1 << cpuIndex);
        int page = localPages.IndexOfAnyExcept((byte)0);
        while (page >= 0)
        {
            if (Volatile.Read(ref _holders[page / PagesPerChunk]) is { } chunk) // a page this CPU marked has its chunk
                Interlocked.And(ref chunk[page % PagesPerChunk], keep);
            int next = localPages[(page + 1)..].IndexOfAnyExcept((byte)0);
            page = next < 0 ? -1 : page + 1 + next;
        }
    }

    /// <summary>
    /// Whether code that CPU <paramref name="self"/> decodes now from the page of <paramref name="physicalAddress"/> can
    /// only go stale by writes the CPUs report: every other CPU has acknowledged the epoch in which the page became
    /// code (or is outside Run), so none writes it through a direct TLB entry any more.
    /// </summary>
    internal bool IsSettled(ulong physicalAddress, X86Cpu self)
    {
        ulong page = physicalAddress >> 12;
        int[]? chunk = Volatile.Read(ref _markEpochs[page / PagesPerChunk]);
        int epoch = chunk is null ? 0 : Volatile.Read(ref chunk[page % PagesPerChunk]);
        return epoch <= Volatile.Read(ref _settledEpoch) || epoch <= RefreshSettledEpoch(self);
    }

    /// <summary>
    /// The newest epoch every running CPU but <paramref name="self"/> has acknowledged; also caches the newest one
    /// every running CPU has (self included: that holds for whoever asks next).
    /// </summary>
    private int RefreshSettledEpoch(X86Cpu self)
    {
        // The epoch first, then each CPU: one that is outside Run now reads the epoch only after it enters (its entry
        // store and the epoch's bump are both full fences), so it drops its entries for every page up to this epoch
        // before its first instruction. Once acknowledged by all, an epoch stays so: the cache only grows.
        int epoch = Volatile.Read(ref _epoch);
        int others = epoch, everyone = epoch;
        int count = CpuCount;
        for (int i = 0; i < count; i++)
        {
            X86Cpu cpu = _cpus[i]!;
            if (!cpu.IsRunning)
                continue;
            int acknowledged = cpu.AcknowledgedCodeEpoch;
            everyone = Math.Min(everyone, acknowledged);
            if (!ReferenceEquals(cpu, self))
                others = Math.Min(others, acknowledged);
        }
        int cached = Volatile.Read(ref _settledEpoch);
        while (everyone > cached)
        {
            int seen = Interlocked.CompareExchange(ref _settledEpoch, everyone, cached);
            if (seen == cached)
                break;
            cached = seen;
        }
        return others;
    }
}
