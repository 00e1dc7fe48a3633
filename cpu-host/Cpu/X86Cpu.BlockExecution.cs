using System.Diagnostics;
using System.Runtime.CompilerServices;
using Iced.Intel;
using SplitEmu.CpuHost.Cpu.Translation;

namespace SplitEmu.CpuHost.Cpu;

// The translator's half of the run loop: find (or make) the translated block at CS:EIP and run it, else step.
public sealed unsafe partial class X86Cpu
{
    /// <summary>
    /// Interpreted entries at a block start before its block is translated, unless set otherwise. Compiling a block
    /// costs the runtime's JIT a millisecond or more and saves ~10 ns per instruction run, so only hot code pays back.
    /// Entries are counted only where control arrives by a jump, call, return or interrupt (<see cref="RunSliceTranslated"/>),
    /// so far fewer addresses compete: on the Linux boot 20,000 then left 290 M instructions interpreted with 470
    /// blocks, 2,000 left 130 M with 2,400 blocks (~3.5 s of the worker's time), and 500 compiled 5,300 blocks for no
    /// gain the noise of the shared machine could show.
    /// </summary>
    public const int DefaultTranslationThreshold = 2_000;

    /// <summary>The longest x86 instruction: an EIP that moved forward by at most this much fell through.</summary>
    private const ulong MaxInstructionLength = 15;

    /// <summary>Most instructions in one block: bounds the time between interrupt checks.</summary>
    private const int MaxBlockInstructions = 64;

    private CpuExecutionMode _executionMode = CpuExecutionMode.Interpreter;
    private TranslationCache? _translations;
    private long _instructionsRunTranslated;
    private long _blocksRun;

    /// <summary>
    /// Interpreter only, or hot blocks translated (docs/translator.md). The translator needs the runtime's JIT
    /// (<see cref="RuntimeFeature.IsDynamicCodeCompiled"/>); where there is none, setting it throws.
    /// </summary>
    public CpuExecutionMode ExecutionMode
    {
        get => _executionMode;
        set
        {
            if (value == CpuExecutionMode.Translator && !RuntimeFeature.IsDynamicCodeCompiled)
                throw new PlatformNotSupportedException("the translator compiles guest code with the runtime's JIT, which this build has not (NativeAOT)");
            _executionMode = value;
            _translations = value == CpuExecutionMode.Translator ? _translations ?? new TranslationCache() : null;
        }
    }

    /// <summary>Interpreted entries at a block start before it is translated (1: translate at first sight, for tests).</summary>
    public int TranslationThreshold { get; set; } = DefaultTranslationThreshold;

    /// <summary>
    /// Compile hot blocks on a worker thread while this vCPU goes on interpreting (machines), rather than at once on
    /// this thread (tests and benchmarks that want a block in use from its first hot entry).
    /// </summary>
    public bool CompileInBackground { get; set; }

    /// <summary>The translator's work so far (all zero in interpreter mode).</summary>
    public TranslationStatistics Translation => _translations is { } t
        ? new TranslationStatistics(t.BlocksTranslated, t.InstructionsTranslated, Stopwatch.GetElapsedTime(0, t.TranslationTicks),
                                    t.BlocksInCache, _instructionsRunTranslated, t.BlocksInvalidated, _blocksRun, t.CompileFailures)
        : new TranslationStatistics(0, 0, TimeSpan.Zero, 0, _instructionsRunTranslated, 0, _blocksRun);

    /// <summary>
    /// <see cref="RunSlice"/> with translated blocks: each block runs whole when the budget holds it, and the
    /// events flag is tested between blocks as between interpreted instructions.
    /// </summary>
    private void RunSliceTranslated(long end)
    {
        _translations!.InstallCompiled();
        if (_eventsPending != 0)
        {
            // An event Run left pending on purpose (an interrupt held back by the STI/MOV SS shadow): exactly one
            // instruction retires before it is looked at again, as in the interpreter, never a whole block.
            if (_bus.MapGeneration != _mapGeneration)
                OnMapChanged();
            Step();
            _runExecuted++;
            return;
        }
        // Blocks are looked up (and block starts counted) only where control arrived other than by falling through
        // from the instruction before: a branch target, a return, an interrupt or fault handler, or where a chain
        // left off. Straight-line code between them is stepped without the two table lookups (a forward branch of at
        // most 15 bytes counts as falling through: its target is reached again from a block's side exit).
        bool lookUp = true;
        do
        {
            if (_bus.MapGeneration != _mapGeneration)
                OnMapChanged();
            if (lookUp && (_state.Eflags & EflagsBits.TF) == 0 && FindBlock(end - _runExecuted) is { } block)
            {
                RunChain(block, end);
                continue;
            }
            ulong before = _state.Rip;
            Step();
            _runExecuted++;
            lookUp = _state.Rip - before - 1 >= MaxInstructionLength; // not a fall-through (written out: this method is past the JIT's inlining budget)
        }
        while (_runExecuted < end && _eventsPending == 0);
    }

    /// <summary>
    /// Runs <paramref name="block"/> and the blocks it leads to, block to block without the interpreter in between:
    /// until a fault, an event, the budget, TF, or an EIP with no translated block. A block remembers the block it last
    /// led to (direct chaining), by linear address on the linear page it was entered through. Between two blocks of one
    /// chain nothing can change CS, CPL, paging or the map (those instructions end chains in the interpreter, and the
    /// map and events are looked at here), so a remembered successor at the same linear address on the page this entry
    /// came through is the block the TLB would find, and it is current if it was made from the same page version and
    /// cache generation as its predecessor, which was current when it started and had no write to its page since (a
    /// write raises the events flag).
    /// </summary>
    private void RunChain(TranslatedBlock block, long end)
    {
        ref SegmentRegister cs = ref _state.Segments[SegmentIndex.CS];
        while (true)
        {
            ulong entryIp = _state.Rip;
            int retired = block.Code(block.Instructions, entryIp, (int)(end - _runExecuted));
            _runExecuted += retired;
            _instructionsRunTranslated += retired;
            _blocksRun++;
            if (_faultVector >= 0)
            {
                DeliverPendingFault();
                return;
            }
            // POPF ends a block but raises the events flag only for IF: a TF it set must reach the interpreter here.
            if (_eventsPending != 0 || _runExecuted >= end || _bus.MapGeneration != _mapGeneration || (_state.Eflags & EflagsBits.TF) != 0)
                return;

            ulong ip = _state.Rip;
            ulong linear = (cs.Base + ip) & 0xFFFF_FFFFUL;
            bool samePage = ((linear ^ ((cs.Base + entryIp) & 0xFFFF_FFFFUL)) & 0xFFFF_F000UL) == 0;
            long budget = end - _runExecuted;
            // The same linear address on the linear page this block was entered through (so on its physical page,
            // whatever CS base or alias it was entered by this time), made from the same page version and generation.
            TranslatedBlock? next = samePage
                ? block.SuccessorLinear == linear ? block.Successor : block.PreviousSuccessorLinear == linear ? block.PreviousSuccessor : null
                : null;
            if (next is not null && next.PageVersion == block.PageVersion && next.CacheGeneration == block.CacheGeneration
                && next.Count <= budget && FitsCodeSegment(next, ip))
            {
                block = next;
                continue;
            }
            next = FindBlock(budget);
            if (next is null)
                return;
            if (samePage)
                block.RememberSuccessor(next, linear);
            block = next;
        }
    }

    /// <summary>The block at CS:EIP if there is one that fits <paramref name="budget"/>; translates a hot one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TranslatedBlock? FindBlock(long budget)
    {
        ref SegmentRegister cs = ref _state.Segments[SegmentIndex.CS];
        ulong ip = _state.Rip;
        ulong linear = (cs.Base + ip) & 0xFFFF_FFFFUL;
        if (!_tlb.TryLookupFetch(linear, _state.Cpl == 3, out ulong physical) || !DecodedInstructionCache.CanCache(physical))
            return null; // the interpreter's fetch fills the TLB
        ulong tag = (physical << 2) | (uint)CodeSizeIndex;
        TranslationCache translations = _translations!;
        TranslatedBlock? block = translations.Find(tag, _codeCache);
        if (block is null)
        {
            if (!translations.IsHot(physical, TranslationThreshold))
                return null;
            block = TranslateBlock(physical, ip, tag);
            if (block is null)
                return null;
        }
        return block.Count <= budget && FitsCodeSegment(block, ip) ? block : null;
    }

    /// <summary>Whether the block's bytes from <paramref name="ip"/> lie within the CS limit and the IP's range (no wrap inside).</summary>
    private bool FitsCodeSegment(TranslatedBlock block, ulong ip)
        => ip + (ulong)block.ByteLength - 1 <= Math.Min(_state.Segments[SegmentIndex.CS].Limit, IpMask);

    /// <summary>Forms the block at <paramref name="physical"/> from the RAM page's bytes and compiles it; null if none.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private TranslatedBlock? TranslateBlock(ulong physical, ulong ip, ulong tag)
    {
        long started = Stopwatch.GetTimestamp();
        DecodedInstruction[]? instructions = FormBlock(physical, ip, out int byteLength);
        if (instructions is null)
        {
            _translations!.AddFailedAttempt(Stopwatch.GetTimestamp() - started);
            return null;
        }
        if (!_codeCache.IsCodePage(physical))
            MarkCodePage(physical); // from now on writes to this page go the slow way and bump its version
        uint pageVersion = _codeCache.PageVersion(physical), generation = _codeCache.Generation;
        TranslationCache translations = _translations!;
        if (!CompileInBackground)
        {
            var block = new TranslatedBlock(tag, BlockCompiler.Compile(this, instructions), instructions, byteLength, pageVersion, generation);
            translations.Add(block, Stopwatch.GetTimestamp() - started);
            return block;
        }

        if (!translations.StartCompiling(tag))
            return null;
        long formed = Stopwatch.GetTimestamp() - started;
        BackgroundBlockCompiler.Post(() =>
        {
            long compileStarted = Stopwatch.GetTimestamp();
            TranslatedBlock? block = null;
            try
            {
                BlockCode code = BlockCompiler.Compile(this, instructions);
                code(instructions, 0, -1); // a negative budget returns at once: the JIT compiles it here, not on the vCPU
                block = new TranslatedBlock(tag, code, instructions, byteLength, pageVersion, generation);
            }
            catch (Exception)
            {
                // A block the runtime refuses to compile is a translator bug, never the guest's: the guest goes on
                // in the interpreter, and the failure is counted in the statistics.
            }
            // Installed at the vCPU's next slice; if the page was written meanwhile, Find drops it as stale.
            translations.Compiled(tag, block, formed + Stopwatch.GetTimestamp() - compileStarted);
        });
        return null;
    }

    /// <summary>
    /// Decodes straight-line code from the page's bytes (so forming a block never faults or touches devices): up to
    /// <see cref="MaxBlockInstructions"/>, through the first branch, stopping before anything the translator leaves
    /// to the interpreter and before an instruction that does not end in this page.
    /// </summary>
    private DecodedInstruction[]? FormBlock(ulong physical, ulong ip, out int byteLength)
    {
        byteLength = 0;
        byte* page = _bus.GetRamPage(physical, write: false);
        if (page == null)
            return null;
        int offset = (int)(physical & 0xFFF);
        byte[] bytes = new ReadOnlySpan<byte>(page + offset, 0x1000 - offset).ToArray();
        Decoder decoder = Decoder.Create(_state.Segments[SegmentIndex.CS].Big ? 32 : 16, new ByteArrayCodeReader(bytes));
        decoder.IP = ip;
        var instructions = new List<DecodedInstruction>();
        while (instructions.Count < MaxBlockInstructions)
        {
            decoder.Decode(out Instruction instruction);
            if (instruction.IsInvalid)
                break; // #UD, or the instruction runs past the page: the interpreter raises or decodes it
            DecodedInstruction d = default;
            Describe(ref d, in instruction);
            BlockRole role = RoleInBlock(ref d);
            if (role == BlockRole.LeftToInterpreter)
                break;
            instructions.Add(d);
            byteLength += d.Length;
            if (role == BlockRole.EndsBlock)
                break;
            // SideExit: the not-taken path goes on in the same block.
        }
        return instructions.Count == 0 ? null : instructions.ToArray();
    }
}
