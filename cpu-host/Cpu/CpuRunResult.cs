namespace SplitEmu.CpuHost.Cpu;

/// <summary>Why <see cref="X86Cpu.Run"/> returned.</summary>
public enum CpuStopReason
{
    /// <summary>The instruction budget given to Run was used up.</summary>
    BudgetExhausted,
    /// <summary><see cref="X86Cpu.RequestStop"/> was called.</summary>
    StopRequested,
    /// <summary>HLT executed with no interrupt pending; call Run again after an interrupt is raised.</summary>
    Halted,
    /// <summary>A triple fault shut the CPU down; only <see cref="X86Cpu.Reset"/> restarts it.</summary>
    Shutdown,
}

/// <summary>The outcome of one <see cref="X86Cpu.Run"/> call: why it stopped and how many instructions retired.</summary>
public readonly record struct CpuRunResult(CpuStopReason Reason, long Instructions);
