using SplitEmu.CpuHost.Cpu;
using SplitEmu.Guests;
using SplitEmu.Tests.Cpu.Infrastructure;

namespace SplitEmu.Tests.Guests;

public sealed class HelloGuestTests
{
    /// <summary>4 MiB covers the image at 1 MiB and the stack below 2 MiB.</summary>
    private const ulong RamSize = 4 << 20;
    /// <summary>The guest needs about 25,000 instructions; the budget only guards against a runaway loop.</summary>
    private const long InstructionBudget = 10_000_000;

    [Fact]
    public void Run_OnInterpreter_PrintsGreetingAndTableChecksumThenExits()
    {
        using var bus = new FakeCpuBus(RamSize);
        var cpu = new X86Cpu(bus);
        bus.Cpu = cpu;
        bus.Load(HelloGuest.LoadAddress, HelloGuest.Build());
        cpu.EnterFlatProtectedMode((uint)HelloGuest.LoadAddress, HelloGuest.StackTop);

        CpuRunResult result = cpu.Run(InstructionBudget);

        uint expectedCrc = ReferenceCrc32(HelloGuest.Table);
        Assert.Equal($"Hello from SplitEmu\nChecksum: 0x{expectedCrc:X8}\n", bus.UartOutput);
        Assert.Equal(HelloGuest.ExitValue, bus.ExitValue);
        Assert.Equal(CpuStopReason.StopRequested, result.Reason);
    }

    [Fact]
    public void Run_WhenExitPortDoesNotStop_HaltsWithInterruptsDisabled()
    {
        using var bus = new FakeCpuBus(RamSize);
        var cpu = new X86Cpu(bus); // bus.Cpu left null: the exit write does not stop the CPU
        bus.Load(HelloGuest.LoadAddress, HelloGuest.Build());
        cpu.EnterFlatProtectedMode((uint)HelloGuest.LoadAddress, HelloGuest.StackTop);

        CpuRunResult result = cpu.Run(InstructionBudget);

        Assert.Equal(CpuStopReason.Halted, result.Reason);
        Assert.Equal(0u, cpu.State.Eflags & EflagsBits.IF);
    }

    [Fact]
    public void ReferenceCrc32_MatchesTheStandardCheckValue()
    {
        // The CRC-32/ISO-HDLC check value for "123456789" is CBF43926.
        Assert.Equal(0xCBF4_3926u, ReferenceCrc32("123456789"u8));
    }

    [Fact]
    public void Build_PutsTableInImageAtDataSection()
    {
        byte[] image = HelloGuest.Build();

        Assert.True(image.AsSpan().IndexOf(HelloGuest.Table) >= HelloGuest.DataOffset);
    }

    /// <summary>CRC-32 (IEEE, reflected, poly EDB88320, init and xorout FFFFFFFF), bit by bit.</summary>
    private static uint ReferenceCrc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFF_FFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int bit = 0; bit < 8; bit++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1;
        }
        return ~crc;
    }
}
