using SplitEmu.CpuHost.Dispatch;
using SplitEmu.CpuHost.Machine;
using SplitEmu.CpuHost.Memory;
using SplitEmu.DeviceHost.Devices.Serial;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices.Serial;

/// <summary>The 16550 on the bus: its registers are a byte wide, so wider accesses reach consecutive registers.</summary>
public sealed class Uart16550BusTests
{
    private const ushort Base = 0x3F8;
    private const ushort InterruptEnable = Base + 1, LineControl = Base + 3;

    private readonly MachineBus _bus;
    private readonly Uart16550 _uart;

    public Uart16550BusTests()
    {
        MachineMap machine = new();
        AddressSpace memory = new("memory", 1UL << 32, machine);
        AddressSpace io = new("io", 0x10000, machine);
        _uart = new Uart16550(new DeviceConfig { Type = Uart16550.TypeName, Irq = 4 }, new FakeDeviceContext(irq: 4));
        new DeviceMap(memory, io).Plug("com1", _uart.Regions, new InlineDevice("com1", _uart));
        _bus = new MachineBus(memory, io);
    }

    [Fact]
    public void WordInFromTheBase_GivesTheReceiveBufferInTheLowByte_AndTheInterruptEnableInTheHigh()
    {
        _bus.WritePort(InterruptEnable, 1, 0x05);
        _uart.AcceptInput("A"u8);

        uint word = _bus.ReadPort(Base, 2);

        Assert.Equal(0x0541u, word);
    }

    [Fact]
    public void WordOutToTheDivisorLatch_SetsBothItsBytes()
    {
        _bus.WritePort(LineControl, 1, 0x80); // DLAB: the base and base+1 are the divisor latch

        _bus.WritePort(Base, 2, 0x0180);

        Assert.Equal(0x0180u, _bus.ReadPort(Base, 2));
    }
}
