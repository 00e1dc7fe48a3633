using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Tests.Guests;

/// <summary>How the flat guests of these tests report a number: through the debug-exit device, which ends the machine.</summary>
internal static class DebugExitReport
{
    /// <summary>The debug-exit port their profiles place the device at.</summary>
    public const ushort Port = 0x501;

    /// <summary>Largest value reported: a write of V ends the machine with exit code 2V+1, which must fit a byte.</summary>
    public const uint MaxValue = 254;

    /// <summary>Ends the machine with EAX (capped at <see cref="MaxValue"/>) as the guest's value, then halts.</summary>
    public static void Emit(Assembler a)
    {
        Label report = a.CreateLabel("report");
        a.cmp(eax, MaxValue);
        a.jbe(report);
        a.mov(eax, MaxValue);
        a.Label(ref report);
        a.mov(dx, Port);
        a.@out(dx, al);
        a.hlt();
    }
}
