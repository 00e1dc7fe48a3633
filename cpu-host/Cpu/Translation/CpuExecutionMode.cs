namespace SplitEmu.CpuHost.Cpu.Translation;

/// <summary>How a vCPU runs guest code (docs/translator.md).</summary>
public enum CpuExecutionMode
{
    /// <summary>Every instruction is fetched from the decoded-instruction cache and interpreted.</summary>
    Interpreter,

    /// <summary>
    /// Hot basic blocks are compiled to host code and run as one unit; cold code, single-stepping and the
    /// instructions the translator leaves out still run in the interpreter. Guest-visible behaviour is the same.
    /// </summary>
    Translator,
}
