using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// A flat 32-bit guest that times one device access with the TSC and ends the machine through the debug-exit
/// port with the time it saw, in units of <see cref="UnitNanoseconds"/> (at most 254). The TSC runs on the
/// machine clock (1 GHz), so a test that kills the device during that access, or has it answer late, learns how
/// much of that time the guest saw.
/// </summary>
internal static class StalledClockGuest
{
    public const ulong LoadAddress = 0x0010_0000;
    public const uint UnitNanoseconds = 16_000_000;
    public const ushort DebugExitPort = DebugExitReport.Port;

    /// <param name="devicePort">The port of the timed access.</param>
    /// <param name="writeValue">Null: the access reads a dword; else it writes this dword.</param>
    public static byte[] Build(ushort devicePort, uint? writeValue = null)
    {
        var a = new Assembler(32);
        a.rdtsc();
        a.mov(ebx, eax);
        a.mov(ebp, edx);
        a.mov(dx, devicePort);
        if (writeValue is { } value)
        {
            a.mov(eax, value);
            a.@out(dx, eax);         // the access the device is slow to answer
        }
        else
        {
            a.@in(eax, dx);          // the access the device process dies in
        }

        a.rdtsc();
        a.sub(eax, ebx);
        a.sbb(edx, ebp);             // edx:eax = nanoseconds the guest saw pass
        a.mov(ecx, UnitNanoseconds);
        a.div(ecx);                  // eax = units (edx < divisor for any delta under 19 hours)
        DebugExitReport.Emit(a);
        using MemoryStream code = new();
        a.Assemble(new StreamCodeWriter(code), LoadAddress);
        return code.ToArray();
    }
}
