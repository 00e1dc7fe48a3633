using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

// There is no FPU yet: x87 escapes behave as on a 386 without a coprocessor.
public sealed partial class X86Cpu
{
    /// <summary>Per Iced Code: true for the x87 escape opcodes D8..DF.</summary>
    private static readonly bool[] s_isX87Escape = BuildX87EscapeTable();

    private static bool[] BuildX87EscapeTable()
    {
        var table = new bool[Enum.GetValues<Code>().Length];
        foreach (Code c in Enum.GetValues<Code>())
        {
            OpCodeInfo info = c.ToOpCode();
            table[(int)c] = info.Encoding == EncodingKind.Legacy && info.Table == OpCodeTableKind.Normal && info.OpCode is >= 0xD8 and <= 0xDF;
        }
        return table;
    }

    /// <summary>#NM when CR0.EM or CR0.TS asks the OS to handle it; otherwise the escape is ignored.</summary>
    private void ExecuteX87Escape()
    {
        if ((_state.Cr0 & (ControlRegisters.Cr0Em | ControlRegisters.Cr0Ts)) != 0)
            RaiseFault(ExceptionVector.DeviceNotAvailable);
    }
}
