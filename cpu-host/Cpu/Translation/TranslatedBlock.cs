namespace SplitEmu.CpuHost.Cpu.Translation;

/// <summary>
/// Compiled guest code, bound to its vCPU: runs the block's instructions from <paramref name="entryIp"/> and returns
/// how many retired, counting a faulting one as the interpreter does (the fault is left recorded for the dispatcher to
/// deliver). A block that branches to its own start runs again while another pass fits in <paramref name="budget"/>.
/// </summary>
internal delegate int BlockCode(DecodedInstruction[] instructions, ulong entryIp, int budget);

/// <summary>
/// One translated basic block: straight-line guest instructions in one physical page, ending at a branch, before
/// an instruction the translator leaves to the interpreter, or at the page end. Keyed like the decoded-instruction
/// cache (physical address and code size), so the same bytes run at any linear address.
/// </summary>
internal sealed class TranslatedBlock
{
    public TranslatedBlock(ulong tag, BlockCode code, DecodedInstruction[] instructions, int byteLength, uint pageVersion, uint cacheGeneration)
    {
        Tag = tag;
        Code = code;
        Instructions = instructions;
        ByteLength = byteLength;
        PageVersion = pageVersion;
        CacheGeneration = cacheGeneration;
    }

    /// <summary>(physical address &lt;&lt; 2) | code-size index, as <see cref="DecodedInstructionCache"/> tags.</summary>
    public ulong Tag { get; }

    public BlockCode Code { get; }

    /// <summary>The block's instructions, which helper calls from the compiled code take by reference.</summary>
    public DecodedInstruction[] Instructions { get; }

    public int Count => Instructions.Length;

    /// <summary>Bytes from the first instruction's start to the last one's end (for the CS limit check at entry).</summary>
    public int ByteLength { get; }

    /// <summary>The code page's write version when the block was made.</summary>
    public uint PageVersion { get; }

    /// <summary>The decoded-instruction cache's generation when the block was made.</summary>
    public uint CacheGeneration { get; }

    /// <summary>The block this one last led to on its own linear page (direct chaining; see X86Cpu.RunChain), or null.</summary>
    public TranslatedBlock? Successor { get; set; }

    /// <summary>The linear address (CS base + EIP) <see cref="Successor"/> was entered at.</summary>
    public ulong SuccessorLinear { get; set; }

    /// <summary>
    /// The successor before <see cref="Successor"/>, kept as well: a block that ends in a conditional jump, or a
    /// RET back to two callers, alternates between two successors, and one slot would miss on every change.
    /// </summary>
    public TranslatedBlock? PreviousSuccessor { get; set; }

    /// <summary>The linear address <see cref="PreviousSuccessor"/> was entered at.</summary>
    public ulong PreviousSuccessorLinear { get; set; }

    /// <summary>Remembers <paramref name="next"/>, entered at <paramref name="linear"/>, as the latest successor; the one before it stays second.</summary>
    public void RememberSuccessor(TranslatedBlock next, ulong linear)
    {
        PreviousSuccessor = Successor;
        PreviousSuccessorLinear = SuccessorLinear;
        Successor = next;
        SuccessorLinear = linear;
    }
}
