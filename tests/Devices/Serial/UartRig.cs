using SplitEmu.DeviceHost.Devices.Serial;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices.Serial;

/// <summary>
/// A 16550 on IRQ 4 of a <see cref="FakeDeviceContext"/>, with the registers' offsets from its base port and
/// byte-wide access to them: what every 16550 unit test builds on.
/// </summary>
internal sealed class UartRig
{
    /// <summary>The ISA line the UART is wired to (COM1's).</summary>
    public const int Irq = 4;

    /// <summary>RBR (read) / THR (write); DLL while LCR bit 7 (DLAB) is set.</summary>
    public const ulong Data = 0;

    /// <summary>IER; DLM while DLAB is set.</summary>
    public const ulong InterruptEnable = 1;

    /// <summary>IIR (read) / FCR (write).</summary>
    public const ulong InterruptId = 2, FifoControl = 2;

    /// <summary>The remaining registers: LCR, MCR, LSR, MSR, SCR.</summary>
    public const ulong LineControl = 3, ModemControl = 4, LineStatus = 5, ModemStatus = 6, Scratch = 7;

    /// <summary>The divisor latch's bytes, at offsets 0 and 1 while DLAB is set.</summary>
    public const ulong DivisorLow = 0, DivisorHigh = 1;

    /// <summary>A UART on a fresh fake machine.</summary>
    public UartRig()
    {
        Context = new FakeDeviceContext(irq: Irq);
        Uart = Create(Context);
    }

    public FakeDeviceContext Context { get; }

    public Uart16550 Uart { get; }

    /// <summary>The level of the UART's ISA line as the machine sees it.</summary>
    public bool IrqLevel => Context.IrqLevels[Irq];

    /// <summary>A UART on IRQ 4 at COM1's port, on <paramref name="context"/>.</summary>
    public static Uart16550 Create(FakeDeviceContext context) =>
        new(new DeviceConfig { Type = Uart16550.TypeName, Irq = Irq }, context);

    /// <summary>A byte-wide read of the register at <paramref name="offset"/>.</summary>
    public byte Read(ulong offset) => (byte)Uart.Read(0, offset, 1);

    /// <summary>A byte-wide write of <paramref name="value"/> to the register at <paramref name="offset"/>.</summary>
    public void Write(ulong offset, byte value) => Uart.Write(0, offset, 1, value);

    /// <summary>Writes <paramref name="text"/> to THR a byte at a time, as a guest transmits it.</summary>
    public void Send(string text)
    {
        foreach (char c in text)
        {
            Write(Data, (byte)c);
        }
    }
}
