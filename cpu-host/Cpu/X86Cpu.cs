using System.Runtime.CompilerServices;
using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

/// <summary>
/// An x86 interpreter built on Iced's decoder: real mode, 16/32-bit protected mode with segmentation,
/// privilege checks and paging, exceptions and interrupts. One instance is one CPU; <see cref="Run"/> is
/// called from a single thread, <see cref="RequestStop"/> and <see cref="NotifyInterruptPending"/> from any.
/// </summary>
/// <remarks>
/// Hot-path rules: decoded instructions are cached by physical address, RAM is reached through a software
/// TLB, guest faults are result codes (<see cref="_faultVector"/>), and everything asynchronous funnels into
/// one flag (<see cref="_eventsPending"/>) tested between instructions.
/// </remarks>
public sealed unsafe partial class X86Cpu
{
    /// <summary>REP string instructions yield after this many iterations so interrupts and stops are timely.</summary>
    private const int MaxRepIterationsPerStep = 4096;

    /// <summary>
    /// Instructions per call of <see cref="RunSlice"/>; the vCPU checks in with the machine clock after each, so a
    /// slice must take well under the clock's lead (1 ms) even for a slow interpreter (16,384 at 20 MIPS: 0.8 ms).
    /// </summary>
    private const long SliceLength = 1 << 14;

    private readonly ICpuBus _bus;
    /// <summary>What this CPU shares with the other CPUs of its machine: code pages and the split lock.</summary>
    private readonly CoherenceDomain _domain;
    /// <summary>This CPU's index (its bit) in <see cref="_domain"/>.</summary>
    private readonly int _cpuIndex;
    private readonly SoftwareTlb _tlb = new();
    private readonly DecodedInstructionCache _codeCache;
    private readonly PendingCodeInvalidations _pendingInvalidations = new();
    private readonly GuestCodeReader _codeReader;
    private readonly Decoder _decoder16;
    private readonly Decoder _decoder32;
    private readonly Decoder _decoder64;

    private CpuState _state;
    private long _instructionsExecuted;
    /// <summary>Map generation the TLB and code cache were filled under.</summary>
    private int _mapGeneration;

    /// <summary>Nonzero when something other than plain execution may need attention (stop, interrupt).</summary>
    private volatile int _eventsPending;
    private volatile bool _stopRequested;
    /// <summary>Set by <see cref="InvalidateCode"/>; the CPU thread drains <see cref="_pendingInvalidations"/>.</summary>
    private volatile bool _invalidationsPending;
    private bool _shutdown;
    /// <summary>1 while <see cref="Run"/> executes (read by other CPUs of the domain: outside Run a CPU writes nothing).</summary>
    private int _running;
    /// <summary>
    /// The domain epoch this CPU has caught up with: no direct-write TLB entry for a page that had become code by then
    /// (written at an instruction boundary, read by other CPUs deciding whether their decodings are settled).
    /// </summary>
    private int _acknowledgedCodeEpoch;

    /// <summary>Instruction count (within the current Run) before which maskable interrupts are inhibited (STI, MOV SS).</summary>
    private long _interruptShadowUntil = -1;
    private long _runExecuted;

    // Per-instruction state.
    /// <summary>Offset of the instruction being executed (restored on a fault).</summary>
    private ulong _instructionIp;
    /// <summary>Offset the next instruction starts at; branches overwrite it.</summary>
    private ulong _nextIp;
    /// <summary>Pending exception raised by the current instruction, or -1.</summary>
    private int _faultVector = -1;
    private uint _faultErrorCode;
    private bool _faultHasErrorCode;

    /// <summary>A CPU alone in its machine (it gets a <see cref="CoherenceDomain"/> of its own).</summary>
    public X86Cpu(ICpuBus bus)
        : this(bus, new CoherenceDomain())
    {
    }

    /// <summary>
    /// One CPU of a multiprocessor: every CPU sharing guest RAM must be given the same <paramref name="domain"/>, so
    /// that locked operations are atomic across them and a write by one drops the code the others cached from it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The domain holds <see cref="CoherenceDomain.MaxCpus"/> CPUs already.</exception>
    public X86Cpu(ICpuBus bus, CoherenceDomain domain)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(domain);
        _bus = bus;
        _domain = domain;
        _cpuIndex = domain.Attach(this);
        _codeCache = new DecodedInstructionCache(domain, _cpuIndex);
        _codeReader = new GuestCodeReader(this);
        _decoder16 = Decoder.Create(16, _codeReader);
        _decoder32 = Decoder.Create(32, _codeReader);
        _decoder64 = Decoder.Create(64, _codeReader);
        Reset();
    }

    /// <summary>The machine's coherence domain this CPU belongs to.</summary>
    public CoherenceDomain Domain => _domain;

    /// <summary>Registers and control state; exact whenever <see cref="Run"/> is not executing.</summary>
    public ref CpuState State => ref _state;

    /// <summary>Instructions retired since construction (updated when <see cref="Run"/> returns).</summary>
    public long InstructionsExecuted => _instructionsExecuted;

    /// <summary>
    /// Where RDTSC reads time from, or null for the instruction count (deterministic, for CPU tests). Firmware
    /// calibrates its delays against the 8254 and then waits with the TSC, also across HLT, so a machine whose
    /// timers run on the host clock must give the TSC the same clock.
    /// </summary>
    public Func<ulong>? TimeStampSource { get; set; }

    /// <summary>
    /// Called after each inner slice of <see cref="Run"/> (at most 65,536 instructions, under a millisecond): the
    /// machine's sign that this vCPU is making progress (its clock keeps pace with it, docs/machine-clock.md).
    /// </summary>
    public Action? Progressed { get; set; }

    /// <summary>The INTR source; polled when <see cref="NotifyInterruptPending"/> has been called.</summary>
    public IInterruptController? InterruptController { get; set; }

    /// <summary>Architectural reset: real mode, CS = F000 with base FFFF0000, IP = FFF0, EDX = CPU signature.</summary>
    public void Reset()
    {
        _state = default;
        _state.Eflags = EflagsBits.Reserved1;
        _state.Cr0 = ControlRegisters.Cr0Et | ControlRegisters.Cr0Cd | ControlRegisters.Cr0Nw;
        for (int s = 0; s < 6; s++)
            _state.Segments[s] = new SegmentRegister { Selector = 0, Base = 0, Limit = 0xFFFF, Attributes = DescriptorAttributes.RealModeData };
        _state.Segments[SegmentIndex.CS] = new SegmentRegister { Selector = 0xF000, Base = 0xFFFF_0000, Limit = 0xFFFF, Attributes = DescriptorAttributes.RealModeCode };
        _state.Rip = 0xFFF0;
        _state.Gpr[Gpr.Rdx] = CpuidSignature;
        _state.Idtr.Limit = 0x3FF;
        _state.Gdtr.Limit = 0xFFFF;
        _state.Ldtr.Limit = 0xFFFF;
        _state.Tr.Limit = 0xFFFF;
        _fpu.Reset();
        _shutdown = false;
        _nmiPending = false;
        FlushTranslations();
        _codeCache.Clear();
    }

    /// <summary>
    /// Loader entry: protected mode with flat 4 GiB 32-bit segments (base 0, limit FFFFFFFF) in every segment
    /// register, paging off, CPL 0, EFLAGS = 2 (interrupts disabled).
    /// </summary>
    public void EnterFlatProtectedMode(uint eip, uint esp) => EnterFlatProtectedMode(eip, esp, 0x08, 0x10, _state.Gdtr.Base, _state.Gdtr.Limit);

    /// <summary>
    /// As <see cref="EnterFlatProtectedMode(uint, uint)"/> with the given selectors, and GDTR pointing at a
    /// descriptor table in guest memory that holds the matching flat descriptors (a boot protocol's handover).
    /// </summary>
    public void EnterFlatProtectedMode(uint eip, uint esp, ushort codeSelector, ushort dataSelector, ulong gdtBase, ushort gdtLimit)
    {
        _state.Cr0 = (_state.Cr0 | ControlRegisters.Cr0Pe) & ~ControlRegisters.Cr0Pg;
        _state.Gdtr = new DescriptorTableRegister { Base = gdtBase, Limit = gdtLimit };
        const ushort flat = DescriptorAttributes.Present | DescriptorAttributes.CodeOrData | DescriptorAttributes.WritableOrReadable
                            | DescriptorAttributes.Accessed | DescriptorAttributes.DefaultBig | DescriptorAttributes.Granularity;
        for (int s = 0; s < 6; s++)
            _state.Segments[s] = new SegmentRegister { Selector = dataSelector, Base = 0, Limit = 0xFFFF_FFFF, Attributes = flat };
        _state.Segments[SegmentIndex.CS] = new SegmentRegister { Selector = codeSelector, Base = 0, Limit = 0xFFFF_FFFF, Attributes = flat | DescriptorAttributes.Code };
        _state.Cpl = 0;
        _state.Rip = eip;
        _state.Gpr[Gpr.Rsp] = esp;
        _state.Eflags = EflagsBits.Reserved1;
        _state.Halted = false;
        FlushTranslations();
    }

    /// <summary>Makes <see cref="Run"/> return at the next instruction boundary. Thread-safe.</summary>
    public void RequestStop()
    {
        _stopRequested = true;
        _eventsPending = 1;
    }

    /// <summary>Tells the CPU its interrupt controller may have something; checked at the next instruction boundary. Thread-safe.</summary>
    public void NotifyInterruptPending() => _eventsPending = 1;

    /// <summary>
    /// Drops cached decodings of guest memory that something other than this CPU (DMA) wrote. Thread-safe:
    /// the range is queued and applied at the next instruction boundary (or when Run next starts).
    /// </summary>
    public void InvalidateCode(ulong physicalAddress, int length)
    {
        if (length <= 0)
            return;
        _pendingInvalidations.Add(physicalAddress, length);
        _invalidationsPending = true;
        _eventsPending = 1;
    }

    /// <summary>Runs until <paramref name="maxInstructions"/> have retired, a stop is requested, HLT, or shutdown.</summary>
    public CpuRunResult Run(long maxInstructions)
    {
        // A full fence before the first instruction: a CPU of the domain that marks a page as code either sees this
        // CPU running (and waits for its acknowledgment) or marked it before HandleEvents below reads the epoch.
        Interlocked.Exchange(ref _running, 1);
        try
        {
            return RunWhileMarkedRunning(maxInstructions);
        }
        finally
        {
            Volatile.Write(ref _running, 0); // after every guest write of this Run
        }
    }

    private CpuRunResult RunWhileMarkedRunning(long maxInstructions)
    {
        LoadFlagsFromState();
        _runExecuted = 0;
        _interruptShadowUntil = -1;
        CpuStopReason reason = CpuStopReason.BudgetExhausted;
        _eventsPending = 1; // look at stop/interrupt/halt state before the first instruction

        if (_shutdown)
        {
            reason = CpuStopReason.Shutdown;
            maxInstructions = 0;
        }

        while (_runExecuted < maxInstructions)
        {
            if (_eventsPending != 0)
            {
                if (HandleEvents(ref reason))
                    break;
                if (_shutdown)
                {
                    reason = CpuStopReason.Shutdown;
                    break;
                }
            }
            RunSlice(Math.Min(maxInstructions - _runExecuted, SliceLength));
            Progressed?.Invoke();
        }

        _instructionsExecuted += _runExecuted;
        _state.Tsc += (ulong)_runExecuted;
        StoreFlagsToState();
        return new CpuRunResult(reason, _runExecuted);
    }

    /// <summary>
    /// The interpreter loop proper: 1 to <paramref name="count"/> instructions, leaving early when an event is
    /// pending. A separate method so the JIT compiles it fully optimised (it is entered many times per Run).
    /// </summary>
    private void RunSlice(long count)
    {
        // At least one instruction runs: Run has just handled the pending events, and an event it left
        // pending on purpose (an interrupt held back by the STI/MOV SS shadow) needs this instruction to retire.
        long end = _runExecuted + count;
        if (_translations is not null)
        {
            RunSliceTranslated(end);
            return;
        }
        do
        {
            if (_bus.MapGeneration != _mapGeneration)
                OnMapChanged();
            Step();
            _runExecuted++;
        }
        while (_runExecuted < end && _eventsPending == 0);
    }

    /// <summary>Stop requests, interrupt delivery and HLT. Returns true when Run must return.</summary>
    private bool HandleEvents(ref CpuStopReason reason)
    {
        _eventsPending = 0;
        if (_domain.Epoch != _acknowledgedCodeEpoch)
            AcknowledgeCodePages();
        if (_invalidationsPending)
        {
            _invalidationsPending = false;
            _pendingInvalidations.Drain(_codeCache);
        }
        if (_stopRequested)
        {
            _stopRequested = false;
            reason = CpuStopReason.StopRequested;
            return true;
        }

        if (_nmiPending && TryDeliverNmi(ref reason))
            return true;

        IInterruptController? pic = InterruptController;
        if (pic is not null && pic.HasPendingInterrupt)
        {
            if ((_state.Eflags & EflagsBits.IF) != 0 && _runExecuted >= _interruptShadowUntil)
            {
                byte vector = pic.AcknowledgeInterrupt();
                _state.Halted = false;
                DeliverExternalInterrupt(vector);
                if (_shutdown)
                {
                    reason = CpuStopReason.Shutdown;
                    return true;
                }
            }
            else
            {
                // Re-armed when IF becomes 1 (SetIf) or after the shadow instruction.
                if ((_state.Eflags & EflagsBits.IF) != 0)
                    _eventsPending = 1;
            }
        }

        if (_shutdown)
            return false; // Run reports it

        if (_state.Halted)
        {
            _eventsPending = 1; // stay halted; re-check next call
            reason = CpuStopReason.Halted;
            return true;
        }
        return false;
    }

    private void OnMapChanged()
    {
        _mapGeneration = _bus.MapGeneration;
        FlushTranslations();
        _codeCache.Clear();
    }

    private void FlushTranslations()
    {
        _tlb.Flush();
        _mapGeneration = _bus.MapGeneration;
    }

    /// <summary>What a CR3 load does: global pages stay cached when CR4.PGE is on.</summary>
    private void FlushNonGlobalTranslations()
    {
        if ((_state.Cr4 & ControlRegisters.Cr4Pge) != 0)
            _tlb.FlushNonGlobal();
        else
            _tlb.Flush();
    }

    /// <summary>Executes one instruction (or one slice of a REP instruction), delivering any fault it raises.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Step()
    {
        _instructionIp = _state.Rip;
        // TF as it was when the instruction started decides the single-step trap (so POPF setting TF traps
        // after the following instruction, and one clearing it still traps once).
        bool singleStep = (_state.Eflags & EflagsBits.TF) != 0;
        ref DecodedInstruction d = ref FetchDecoded();
        if (_faultVector < 0)
        {
            _nextIp = (_instructionIp + d.Length) & IpMask;
            Execute(ref d);
            if (_faultVector < 0)
            {
                _state.Rip = _nextIp;
                if (singleStep)
                    SingleStepTrap(ref d);
                return;
            }
        }
        DeliverPendingFault();
    }

    /// <summary>Mask for instruction offsets: 16-bit code wraps IP at 64 KiB.</summary>
    private ulong IpMask
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _state.Segments[SegmentIndex.CS].Big ? 0xFFFF_FFFFUL : 0xFFFFUL;
    }

    private int CodeSizeIndex
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _state.Segments[SegmentIndex.CS].Big ? 1 : 0;
    }

    /// <summary>Holds an instruction that cannot be cached (MMIO code, page-crossing) while it executes.</summary>
    private DecodedInstruction _uncachedInstruction;

    /// <summary>The decoded instruction at CS:IP, from the cache or freshly decoded. Sets a fault on failure.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref DecodedInstruction FetchDecoded()
    {
        ref SegmentRegister cs = ref _state.Segments[SegmentIndex.CS];
        ulong linear = (cs.Base + _instructionIp) & 0xFFFF_FFFFUL;
        if (_tlb.TryLookupFetch(linear, _state.Cpl == 3, out ulong physical))
        {
            ref DecodedInstruction slot = ref _codeCache.Slot(physical);
            if (slot.Tag == ((physical << 2) | (uint)CodeSizeIndex) && _instructionIp + slot.Length - 1 <= cs.Limit)
                return ref slot;
        }
        return ref DecodeAt(linear);
    }

    /// <summary>
    /// The slow half of <see cref="FetchDecoded"/>: translates CS:IP, refills the fetch TLB, and returns the cached
    /// decoding if there is one, else decodes with Iced (caching it when it lies within one RAM page).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ref DecodedInstruction DecodeAt(ulong linear)
    {
        ref SegmentRegister cs = ref _state.Segments[SegmentIndex.CS];
        bool user = _state.Cpl == 3;
        bool big = cs.Big;
        uint codeSize = (uint)CodeSizeIndex;

        // Where the first byte lives; a translation fault is left for the decoder's byte reads to raise.
        bool translated = TranslateLinear(linear, write: false, user, fetch: true, out ulong physical, raiseFault: false);
        byte* page = translated ? _bus.GetRamPage(physical, write: false) : null;
        bool inRam = page != null && DecodedInstructionCache.CanCache(physical);
        if (inRam)
        {
            _tlb.FillRead(linear, user, physical, page, _translatedGlobal);
            ref DecodedInstruction cached = ref _codeCache.Slot(physical);
            if (cached.Tag == ((physical << 2) | codeSize) && _instructionIp + cached.Length - 1 <= cs.Limit)
                return ref cached;
        }

        Decoder decoder = big ? _decoder32 : _decoder16;
        _codeReader.Start(_instructionIp, big ? 0xFFFF_FFFFUL : 0xFFFFUL);
        decoder.IP = _instructionIp;
        decoder.Decode(out Instruction instruction);
        if (_faultVector >= 0)
            return ref _uncachedInstruction;
        if (instruction.IsInvalid)
        {
            RaiseFault(ExceptionVector.InvalidOpcode);
            return ref _uncachedInstruction;
        }

        bool cacheable = inRam && (int)(physical & 0xFFF) + instruction.Length <= 0x1000;
        ref DecodedInstruction d = ref cacheable ? ref _codeCache.Slot(physical) : ref _uncachedInstruction;
        Describe(ref d, in instruction);
        if (cacheable)
        {
            d.Tag = (physical << 2) | codeSize;
            if (!_codeCache.IsCodePage(physical))
                MarkCodePage(physical);
        }
        else
        {
            d.Tag = DecodedInstructionCache.EmptyTag;
        }
        return ref d;
    }

    /// <summary>Reads one instruction byte for the decoder at CS:offset; -1 (and a fault) if it cannot.</summary>
    internal int ReadCodeByte(ulong offset)
    {
        if (_faultVector >= 0)
            return -1;
        ref SegmentRegister cs = ref _state.Segments[SegmentIndex.CS];
        if (offset > cs.Limit)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return -1;
        }
        ulong linear = (cs.Base + offset) & 0xFFFF_FFFFUL;
        if (!TranslateLinear(linear, write: false, user: _state.Cpl == 3, fetch: true, out ulong physical, raiseFault: true))
            return -1;
        return (int)(byte)ReadPhysical(physical, 1);
    }

    /// <summary>Records an exception for the current instruction; the first one wins.</summary>
    private void RaiseFault(int vector)
    {
        if (_faultVector >= 0)
            return;
        _faultVector = vector;
        _faultHasErrorCode = false;
        _faultErrorCode = 0;
    }

    private void RaiseFault(int vector, uint errorCode)
    {
        if (_faultVector >= 0)
            return;
        _faultVector = vector;
        _faultHasErrorCode = true;
        _faultErrorCode = errorCode;
    }

    private bool Faulted
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _faultVector >= 0;
    }
}
