namespace SplitEmu.CpuHost.Cpu.Translation;

/// <summary>What the translator of one vCPU has done so far (reports and <c>bench cpu</c>).</summary>
/// <param name="BlocksTranslated">Blocks compiled to host code (a block made again after its code changed counts again).</param>
/// <param name="InstructionsTranslated">Guest instructions in those blocks.</param>
/// <param name="TranslationTime">Time spent forming and compiling blocks (the runtime's JIT of them included).</param>
/// <param name="BlocksInCache">Translated blocks the cache holds now.</param>
/// <param name="InstructionsRunTranslated">Guest instructions retired inside translated blocks.</param>
/// <param name="BlocksInvalidated">Blocks found stale because their code page was written or the map changed.</param>
/// <param name="BlocksRun">Entries into translated blocks (a self-loop's further passes not counted).</param>
/// <param name="CompileFailures">Blocks the runtime refused to compile (a translator bug; their code stays interpreted).</param>
public readonly record struct TranslationStatistics(
    long BlocksTranslated,
    long InstructionsTranslated,
    TimeSpan TranslationTime,
    int BlocksInCache,
    long InstructionsRunTranslated,
    long BlocksInvalidated,
    long BlocksRun,
    long CompileFailures = 0)
{
    public override string ToString()
        => $"{BlocksTranslated:N0} blocks ({InstructionsTranslated:N0} instructions) translated in {TranslationTime.TotalMilliseconds:F0} ms, "
           + $"{BlocksInCache:N0} cached, {BlocksInvalidated:N0} invalidated, {InstructionsRunTranslated:N0} instructions run translated in {BlocksRun:N0} block entries"
           + (CompileFailures > 0 ? $", {CompileFailures:N0} blocks failed to compile" : "");
}
