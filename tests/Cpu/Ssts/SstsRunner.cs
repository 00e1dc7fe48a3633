using System.Text;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;

namespace SplitEmu.Tests.Cpu.Ssts;

/// <summary>Runs SSTS 80286 real-mode tests on one reused X86Cpu: load state, run to the closing HLT, compare.</summary>
public sealed class SstsRunner : IDisposable
{
    /// <summary>Real-mode addresses reach 0x10FFEF (FFFF:FFFF, no A20 wrap on the 286); round up to a page.</summary>
    private const ulong RamSize = 0x0011_0000;
    /// <summary>Enough for the instruction, a REP over 64 Ki elements in 4 Ki slices, an exception and the HLT.</summary>
    private const long InstructionBudget = 1_000;
    /// <summary>FLAGS bits 12..15 (IOPL, NT, reserved) behave differently on the 286 in real mode; never compared.</summary>
    private const ushort ComparedFlags = 0x0FFF;

    private static readonly (string Name, int Slot)[] s_gprs =
    [
        ("ax", Gpr.Rax), ("bx", Gpr.Rbx), ("cx", Gpr.Rcx), ("dx", Gpr.Rdx),
        ("sp", Gpr.Rsp), ("bp", Gpr.Rbp), ("si", Gpr.Rsi), ("di", Gpr.Rdi),
    ];

    private static readonly (string Name, int Index)[] s_segments =
    [
        ("cs", SegmentIndex.CS), ("ss", SegmentIndex.SS), ("ds", SegmentIndex.DS), ("es", SegmentIndex.ES),
    ];

    private readonly FakeCpuBus _bus = new(RamSize);
    private readonly X86Cpu _cpu;

    public SstsRunner() => _cpu = new X86Cpu(_bus);

    /// <summary>Runs one test; returns null if it passed, else a description of the first differences.</summary>
    public string? Run(SstsTestCase test, ushort flagsMask)
    {
        try
        {
            LoadInitialState(test);
            CpuRunResult result = _cpu.Run(InstructionBudget);
            if (result.Reason != CpuStopReason.Halted)
                return $"stopped with {result.Reason} after {result.Instructions} instructions";
            return Compare(test, flagsMask);
        }
        finally
        {
            ClearMemory(test);
        }
    }

    private void LoadInitialState(SstsTestCase test)
    {
        ref CpuState s = ref _cpu.State;
        s.Cr0 = ControlRegisters.Cr0Et;
        s.Cpl = 0;
        s.Halted = false;
        s.Idtr = new DescriptorTableRegister { Base = 0, Limit = 0x3FF };
        foreach (var (name, slot) in s_gprs)
            s.Gpr[slot] = test.Initial[name];
        foreach (var (name, index) in s_segments)
        {
            ushort selector = test.Initial[name];
            s.Segments[index] = new SegmentRegister
            {
                Selector = selector,
                Base = (ulong)selector << 4,
                Limit = 0xFFFF,
                Attributes = index == SegmentIndex.CS ? DescriptorAttributes.RealModeCode : DescriptorAttributes.RealModeData,
            };
        }
        s.Rip = test.Initial["ip"];
        // A 286 in real mode cannot hold IOPL or NT (they read and push as 0), whatever the test loaded.
        s.Eflags = ((uint)test.Initial["flags"] & ComparedFlags) | EflagsBits.Reserved1;

        Span<byte> ram = _bus.Ram;
        foreach (var (address, value) in test.InitialRam)
        {
            ram[(int)address] = value;
            _cpu.InvalidateCode(address, 1);
        }
    }

    private string? Compare(SstsTestCase test, ushort flagsMask)
    {
        var diff = new StringBuilder();
        ref CpuState s = ref _cpu.State;
        foreach (var (name, slot) in s_gprs)
            Check(diff, name, (ushort)s.Gpr[slot], Expected(test, name));
        foreach (var (name, index) in s_segments)
            Check(diff, name, s.Segments[index].Selector, Expected(test, name));
        Check(diff, "ip", (ushort)s.Rip, Expected(test, "ip"));
        ushort mask = (ushort)(flagsMask & ComparedFlags);
        ushort expectedFlags = Expected(test, "flags");
        if (((ushort)s.Eflags & mask) != (expectedFlags & mask))
            diff.Append($"flags {(ushort)s.Eflags & mask:X4} != {expectedFlags & mask:X4} (mask {mask:X4}); ");

        // FLAGS pushed by an exception have undefined bits too. The suite's flag_address is sometimes one
        // byte off (odd SP), so the slot is also located from the final SS:SP (IP, CS, then FLAGS).
        Span<uint> flagsBytes = stackalloc uint[4];
        flagsBytes.Fill(uint.MaxValue);
        if (test.FlagAddress is uint flagAddress)
        {
            uint ssBase = (uint)Expected(test, "ss") << 4;
            uint sp = Expected(test, "sp");
            flagsBytes[0] = flagAddress;
            flagsBytes[1] = flagAddress + 1;
            flagsBytes[2] = ssBase + ((sp + 4) & 0xFFFF);
            flagsBytes[3] = ssBase + ((sp + 5) & 0xFFFF);
        }
        ReadOnlySpan<byte> ram = _bus.Ram;
        foreach (var (address, value) in test.FinalRam)
        {
            byte byteMask = 0xFF;
            if (address == flagsBytes[0] || address == flagsBytes[2]) byteMask = (byte)mask;
            else if (address == flagsBytes[1] || address == flagsBytes[3]) byteMask = (byte)(mask >> 8);
            if ((ram[(int)address] & byteMask) != (value & byteMask))
                diff.Append($"[{address:X6}] {ram[(int)address]:X2} != {value:X2}; ");
        }
        return diff.Length == 0 ? null : diff.ToString();
    }

    private static ushort Expected(SstsTestCase test, string name)
    {
        int i = Array.IndexOf(SstsRegisters.Names, name);
        return test.Final.Values[i] ?? test.Initial.Values[i]!.Value;
    }

    private static void Check(StringBuilder diff, string name, ushort actual, ushort expected)
    {
        if (actual != expected)
            diff.Append($"{name} {actual:X4} != {expected:X4}; ");
    }

    /// <summary>Zeroes every byte the test named so the next test starts from a clean memory.</summary>
    private void ClearMemory(SstsTestCase test)
    {
        Span<byte> ram = _bus.Ram;
        foreach (var (address, _) in test.InitialRam)
            ram[(int)address] = 0;
        foreach (var (address, _) in test.FinalRam)
            ram[(int)address] = 0;
    }

    public void Dispose() => _bus.Dispose();
}
