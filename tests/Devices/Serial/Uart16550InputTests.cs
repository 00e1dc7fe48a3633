using SplitEmu.DeviceHost.Devices.Serial;
using SplitEmu.Tests.Infrastructure;
using static SplitEmu.Tests.Devices.Serial.UartRig;

namespace SplitEmu.Tests.Devices.Serial;

/// <summary>Console input into the 16550: flow-controlled by the receive FIFO's room, never an overrun.</summary>
public sealed class Uart16550InputTests
{
    private readonly FakeDeviceContext _context;
    private readonly Uart16550 _uart;

    public Uart16550InputTests()
    {
        UartRig rig = new();
        _context = rig.Context;
        _uart = rig.Uart;
    }

    [Fact]
    public void AcceptInput_WithTheFifoOn_TakesSixteenBytesAndNoMore()
    {
        _uart.Write(0, FifoControl, 1, 0x07);

        int taken = _uart.AcceptInput(new byte[20]);

        Assert.Equal(16, taken);
        Assert.Equal(0, _uart.AcceptInput([1]));
        Assert.Equal(0x61UL, _uart.Read(0, LineStatus, 1)); // data ready, no overrun (bit 1 clear)
    }

    [Fact]
    public void AcceptInput_WithTheFifoOff_TakesOneByteAtATime()
    {
        Assert.Equal(1, _uart.AcceptInput("ab"u8));
        Assert.Equal(0, _uart.AcceptInput("b"u8));

        Assert.Equal((ulong)'a', _uart.Read(0, Data, 1));
        Assert.Equal(1, _uart.AcceptInput("b"u8));
    }

    [Fact]
    public void AcceptInput_KeepsTheOrderTheBytesCameIn()
    {
        _uart.Write(0, FifoControl, 1, 0x01);
        _uart.AcceptInput("xyz"u8);

        byte[] read = [(byte)_uart.Read(0, Data, 1), (byte)_uart.Read(0, Data, 1), (byte)_uart.Read(0, Data, 1)];

        Assert.Equal("xyz"u8.ToArray(), read);
    }

    [Fact]
    public void AcceptInput_RaisesTheReceiveInterrupt_WhenEnabledAndOut2IsSet()
    {
        _uart.Write(0, InterruptEnable, 1, 0x01);
        _uart.Write(0, ModemControl, 1, 0x08);

        _uart.AcceptInput("k"u8);

        Assert.True(_context.IrqLevels[Irq]);
    }

    [Fact]
    public void AcceptInput_InLoopback_TakesNothing()
    {
        _uart.Write(0, ModemControl, 1, 0x10);

        Assert.Equal(0, _uart.AcceptInput("k"u8));
    }

    [Fact]
    public void SavedState_KeepsInputNotYetRead()
    {
        _uart.Write(0, FifoControl, 1, 0x01);
        _uart.AcceptInput("hi"u8);
        Uart16550 restored = UartRig.Create(new FakeDeviceContext(irq: Irq));

        restored.RestoreState(_uart.SaveState());

        Assert.Equal((ulong)'h', restored.Read(0, Data, 1));
        Assert.Equal(15, restored.AcceptInput(new byte[16])); // "i" still waits: room for 15
    }
}
