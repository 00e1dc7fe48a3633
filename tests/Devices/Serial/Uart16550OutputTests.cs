using SplitEmu.DeviceHost.Devices.Serial;
using SplitEmu.Tests.Infrastructure;
using static SplitEmu.Tests.Devices.Serial.UartRig;

namespace SplitEmu.Tests.Devices.Serial;

/// <summary>
/// Console output under back-pressure: while the console is backed up, the 16550's line is busy, so transmitted
/// bytes wait in its transmit FIFO (LSR says so), none is lost, and they leave in order once the console drains,
/// on the retry timer or the guest's next LSR poll, with the THRE interrupt after them.
/// </summary>
public sealed class Uart16550OutputTests
{
    private const ulong TransmitterIdle = 0x60;

    private readonly UartRig _rig = new();
    private readonly FakeDeviceContext _context;
    private readonly Uart16550 _uart;

    public Uart16550OutputTests()
    {
        _context = _rig.Context;
        _uart = _rig.Uart;
        _uart.Write(0, FifoControl, 1, 0x07);
    }

    [Fact]
    public void WhileTheConsoleIsBackedUp_BytesWaitInTheFifo_AndTheLineReadsBusy()
    {
        _context.OutputBackedUp = true;

        Send("abc");

        Assert.Empty(_context.OutputBytes);
        Assert.Equal(0UL, _uart.Read(0, LineStatus, 1) & TransmitterIdle);
    }

    [Fact]
    public void WhenTheConsoleDrains_TheNextLsrPoll_SendsTheHeldBytesInOrder()
    {
        _context.OutputBackedUp = true;
        Send("abc");

        _context.OutputBackedUp = false;

        Assert.Equal(TransmitterIdle, _uart.Read(0, LineStatus, 1) & TransmitterIdle);
        Assert.Equal("abc"u8.ToArray(), _context.OutputBytes);
        Send("d");
        Assert.Equal("abcd"u8.ToArray(), _context.OutputBytes);
    }

    [Fact]
    public void AByteWrittenOnceTheConsoleDrained_GoesOutAfterTheHeldBytes_BeforeTheTimerLooked()
    {
        // A restored UART replaying what its predecessor did after that one's timer sent the held bytes has no such
        // timer to wait for: the bytes it writes must neither wait behind the held ones nor overflow the FIFO.
        _context.OutputBackedUp = true;
        Send("0123456789abcdef"); // the FIFO is full

        _context.OutputBackedUp = false;
        Send("gh");

        Assert.Equal("0123456789abcdefgh"u8.ToArray(), _context.OutputBytes);
        Assert.Equal(TransmitterIdle, _uart.Read(0, LineStatus, 1) & TransmitterIdle);
    }

    [Fact]
    public void WhenTheConsoleDrains_TheRetryTimer_SendsTheHeldBytes_AndThenRaisesThre()
    {
        _uart.Write(0, InterruptEnable, 1, 0x02); // THRE interrupt
        _uart.Write(0, ModemControl, 1, 0x08);    // OUT2: the line reaches the PIC
        _uart.Read(0, InterruptId, 1);            // IIR read: the THRE interrupt of enabling it is taken
        _context.OutputBackedUp = true;
        Send("xy");
        Assert.False(_context.IrqLevels[Irq], "THRE raised while the bytes are still held");
        long retry = Assert.NotNull(_context.TimerDeadline);

        _context.OutputBackedUp = false;
        _context.AdvanceTo(retry, _uart);

        Assert.Equal("xy"u8.ToArray(), _context.OutputBytes);
        Assert.True(_context.IrqLevels[Irq]);
    }

    [Fact]
    public void AFullTransmitFifo_DropsWhatIsWrittenBeyondIt_AsA16550Does()
    {
        _context.OutputBackedUp = true;
        Send(new string('z', 20));

        _context.OutputBackedUp = false;
        _uart.Read(0, LineStatus, 1);

        Assert.Equal(16, _context.OutputBytes.Count);
    }

    [Fact]
    public void HeldBytes_SurviveASaveAndRestore()
    {
        _context.OutputBackedUp = true;
        Send("held");
        byte[] state = _uart.SaveState();

        FakeDeviceContext context = new(irq: Irq);
        Uart16550 successor = UartRig.Create(context);
        successor.RestoreState(state);
        successor.Read(0, LineStatus, 1);

        Assert.Equal("held"u8.ToArray(), context.OutputBytes);
    }

    private void Send(string text) => _rig.Send(text);
}
