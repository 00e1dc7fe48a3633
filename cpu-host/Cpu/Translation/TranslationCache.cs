using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SplitEmu.CpuHost.Cpu.Translation;

/// <summary>
/// Translated blocks by physical address (direct-mapped, like the decoded-instruction cache), and the execution
/// counters that decide when a block is hot enough to be worth compiling.
/// </summary>
internal sealed class TranslationCache
{
    private const int EntryBits = 16;
    private const int EntryMask = (1 << EntryBits) - 1;

    private readonly TranslatedBlock?[] _blocks = new TranslatedBlock?[1 << EntryBits];
    /// <summary>Interpreted entries into a block start, per slot; reset when the slot is translated.</summary>
    private readonly ushort[] _heat = new ushort[1 << EntryBits];

    /// <summary>Blocks compiled on the worker thread, waiting for the vCPU to install them.</summary>
    private readonly ConcurrentQueue<(ulong Tag, TranslatedBlock? Block, long Ticks)> _compiled = new();
    /// <summary>Tags handed to the worker and not yet installed (so a block is compiled once).</summary>
    private readonly HashSet<ulong> _compiling = [];
    private volatile bool _anyCompiled;

    public long BlocksTranslated { get; private set; }
    public long InstructionsTranslated { get; private set; }
    public long TranslationTicks { get; private set; }
    public long BlocksInvalidated { get; private set; }
    public int BlocksInCache { get; private set; }

    /// <summary>The valid block starting at <paramref name="tag"/>'s address, or null (a stale one is dropped).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TranslatedBlock? Find(ulong tag, DecodedInstructionCache code)
    {
        ulong physical = tag >> 2;
        // SAFETY: the index is masked to the array length.
        ref TranslatedBlock? slot = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_blocks), (int)(physical & EntryMask));
        TranslatedBlock? block = slot;
        if (block is null || block.Tag != tag)
            return null;
        if (block.PageVersion == code.PageVersion(physical) && block.CacheGeneration == code.Generation)
            return block;
        slot = null;
        BlocksInCache--;
        BlocksInvalidated++;
        return null;
    }

    /// <summary>Counts one more interpreted entry at <paramref name="physical"/>; true once it reaches <paramref name="threshold"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsHot(ulong physical, int threshold)
    {
        ref ushort heat = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_heat), (int)(physical & EntryMask));
        if (heat + 1 >= threshold)
        {
            heat = 0;
            return true;
        }
        heat++;
        return false;
    }

    public void Add(TranslatedBlock block, long ticks)
    {
        ref TranslatedBlock? slot = ref _blocks[(int)((block.Tag >> 2) & EntryMask)];
        if (slot is null)
            BlocksInCache++;
        slot = block;
        BlocksTranslated++;
        InstructionsTranslated += block.Count;
        TranslationTicks += ticks;
    }

    /// <summary>True (and recorded) if the block at <paramref name="tag"/> is not already being compiled.</summary>
    public bool StartCompiling(ulong tag) => _compiling.Add(tag);

    /// <summary>Called on the worker thread with a compiled block, or null if compiling it failed (it stays interpreted).</summary>
    public void Compiled(ulong tag, TranslatedBlock? block, long ticks)
    {
        _compiled.Enqueue((tag, block, ticks));
        _anyCompiled = true;
    }

    /// <summary>Blocks whose compilation failed (they run in the interpreter).</summary>
    public long CompileFailures { get; private set; }

    /// <summary>Installs the blocks the worker finished (vCPU thread). Stale ones are dropped by <see cref="Find"/> as usual.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void InstallCompiled()
    {
        if (_anyCompiled)
            InstallCompiledSlow();
    }

    private void InstallCompiledSlow()
    {
        _anyCompiled = false;
        while (_compiled.TryDequeue(out (ulong Tag, TranslatedBlock? Block, long Ticks) done))
        {
            _compiling.Remove(done.Tag);
            if (done.Block is null)
            {
                // Left in _heat's count-down like any block start, so it is tried again much later, not every time.
                CompileFailures++;
                TranslationTicks += done.Ticks;
                continue;
            }
            Add(done.Block, done.Ticks);
        }
    }

    /// <summary>Counts time spent on a block start that could not be translated.</summary>
    public void AddFailedAttempt(long ticks) => TranslationTicks += ticks;
}
