using MemoryPack;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Devices.Serial;

/// <summary>
/// A 16550A UART as on a PC's COM port: eight registers, divisor latch, FIFO control, scratch, loopback,
/// and interrupt identification. Transmission is instant while the output's reader keeps up (the line status
/// reports the transmitter empty), so a guest polling the line status register never waits. When the reader
/// falls behind (<see cref="IDeviceContext.OutputBackedUp"/>: a paused pager, a full pipe), the line is busy:
/// written bytes wait in the transmit FIFO (16 bytes, or the holding register while the FIFO is off), the line
/// status shows the transmitter full and the transmitter-empty interrupt waits, and a timer sends them when the
/// reader catches up. That is back-pressure on the guest, as a slow line puts on a real UART, never a fault.
/// Transmitted bytes go to the device's output stream; in loopback mode they come back as received bytes
/// instead. Console input arrives through <see cref="AcceptInput"/>, never more than the receive FIFO has room for.
/// </summary>
public sealed partial class Uart16550 : IDeviceModel<Uart16550>, ISnapshotable, IConsoleInput, ITimedDevice
{
    /// <summary>Profile type name.</summary>
    public const string TypeName = "uart16550";

    /// <summary>What a profile may say about this type: the catalog's entry, declared here.</summary>
    public static DeviceTypeInfo Type { get; } = new(TypeName, PortCount: (int)PortCount, MmioSize: 0, IrqUse.Required, CanBeConsole: true, ConfigKeys: [])
    {
        Summary = "16550A UART; as the console it takes the launcher's standard input",
        TakesInput = true,
    };

    /// <summary>Builds the device <paramref name="config"/> describes (the catalog's factory).</summary>
    public static Uart16550 Create(DeviceConfig config, IDeviceContext context) => new(config, context);

    /// <summary>Ports occupied.</summary>
    public const ulong PortCount = 8;

    /// <summary>Base port when the profile gives none: COM1's.</summary>
    public const ushort DefaultPort = 0x3F8;

    /// <summary>Received bytes the FIFO holds; later bytes are an overrun.</summary>
    private const int ReceiveFifoCapacity = 16;

    /// <summary>Bytes the transmit FIFO holds while the line is busy; a byte written to a full FIFO is lost, as on a 16550.</summary>
    private const int TransmitFifoCapacity = 16;

    /// <summary>How often a busy line looks again whether the reader has caught up (machine time).</summary>
    private const long BusyLineRetryNanoseconds = 1_000_000;

    private readonly IDeviceContext _context;
    private readonly Queue<byte> _receiveFifo = new();
    private readonly Queue<byte> _transmitFifo = new();
    private readonly byte[] _oneByte = new byte[1];

    private byte _interruptEnable;
    private byte _lineControl;
    private byte _modemControl;
    private byte _lineStatusErrors;
    private byte _scratch;
    private byte _divisorLow = 0x0C; // 9600 baud, the BIOS default
    private byte _divisorHigh;
    private bool _fifoEnabled;

    /// <summary>A transmitter-empty interrupt is pending (set by a transmit or by enabling it, cleared by reading IIR or writing THR).</summary>
    private bool _transmitterEmptyPending;

    /// <summary>Modem status bits 0-3 (deltas) since the last MSR read.</summary>
    private byte _modemStatusDeltas;

    private bool _irqAsserted;

    /// <summary>
    /// Creates the UART at the profile's I/O base (0x3F8, COM1, by default). A write to the transmit holding register
    /// (offset 0; the divisor's low byte while DLAB is set) is posted: the guest does not wait for the device, and
    /// what it reads next (LSR, IIR: synchronous) sees the write handled, in ring order. The transmitter-empty
    /// interrupt then comes when the device has taken the byte, microseconds later, as a 16550's comes when the byte
    /// has moved on to its shift register; after a crash its line is handed over as the device holds it. Writes to
    /// the other registers change what the guest's next instruction may see (interrupt enables, modem control, DLAB)
    /// and stay synchronous.
    /// </summary>
    public Uart16550(DeviceConfig config, IDeviceContext context)
    {
        _context = context;
        // Byte-wide registers (QEMU's serial_io_ops: 1..1): a 16-bit IN of the base is RBR then IER, as a PC's ISA bus splits it.
        Regions = [new DeviceRegionInfo("regs", AddressSpaceKind.Io, config.Io ?? DefaultPort, PortCount, PostedWrites: true, SynchronousOffsets: s_synchronousOffsets, MinAccessSize: 1, MaxAccessSize: 1)];
    }

    /// <summary>Every register but the transmit holding register: their writes are waited for.</summary>
    private static readonly IReadOnlyList<ulong> s_synchronousOffsets = [1, 2, 3, 4, 5, 6, 7];

    private enum Register
    {
        Data = 0,              // RBR (read) / THR (write); DLL when DLAB
        InterruptEnable = 1,   // IER; DLM when DLAB
        InterruptId = 2,       // IIR (read) / FCR (write)
        LineControl = 3,
        ModemControl = 4,
        LineStatus = 5,
        ModemStatus = 6,
        Scratch = 7,
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <summary>Bytes transmitted since power-on.</summary>
    public long TransmittedBytes { get; private set; }

    private bool DivisorLatchAccess => (_lineControl & 0x80) != 0;

    private bool Loopback => (_modemControl & 0x10) != 0;

    /// <summary>Received bytes held before an overrun: the FIFO, or the one holding register while it is off.</summary>
    private int ReceiveCapacity => _fifoEnabled ? ReceiveFifoCapacity : 1;

    /// <summary>Bytes waiting for a busy line: the FIFO, or the one holding register while it is off.</summary>
    private int TransmitCapacity => _fifoEnabled ? TransmitFifoCapacity : 1;

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size)
    {
        byte value = (Register)(offset & 7) switch
        {
            Register.Data when DivisorLatchAccess => _divisorLow,
            Register.Data => ReadReceiveBuffer(),
            Register.InterruptEnable when DivisorLatchAccess => _divisorHigh,
            Register.InterruptEnable => _interruptEnable,
            Register.InterruptId => ReadInterruptId(),
            Register.LineControl => _lineControl,
            Register.ModemControl => _modemControl,
            Register.LineStatus => ReadLineStatus(),
            Register.ModemStatus => ReadModemStatus(),
            _ => _scratch,
        };
        return value;
    }

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value)
    {
        byte data = (byte)value;
        switch ((Register)(offset & 7))
        {
            case Register.Data when DivisorLatchAccess:
                _divisorLow = data;
                break;
            case Register.Data:
                Transmit(data);
                break;
            case Register.InterruptEnable when DivisorLatchAccess:
                _divisorHigh = data;
                break;
            case Register.InterruptEnable:
                WriteInterruptEnable(data);
                break;
            case Register.InterruptId:
                WriteFifoControl(data);
                break;
            case Register.LineControl:
                _lineControl = data;
                break;
            case Register.ModemControl:
                WriteModemControl(data);
                break;
            case Register.LineStatus:
            case Register.ModemStatus:
                break; // read-only on a 16550
            default:
                _scratch = data;
                break;
        }

        UpdateIrq();
    }

    /// <inheritdoc/>
    public void Reset()
    {
        _receiveFifo.Clear();
        _transmitFifo.Clear();
        _context.CancelTimer();
        _interruptEnable = _lineControl = _modemControl = _lineStatusErrors = _scratch = _divisorHigh = 0;
        _divisorLow = 0x0C;
        _fifoEnabled = _transmitterEmptyPending = false;
        _modemStatusDeltas = 0;
        UpdateIrq();
    }

    /// <inheritdoc/>
    public byte[] SaveState() => MemoryPackSerializer.Serialize(new State
    {
        InterruptEnable = _interruptEnable,
        LineControl = _lineControl,
        ModemControl = _modemControl,
        LineStatusErrors = _lineStatusErrors,
        Scratch = _scratch,
        DivisorLow = _divisorLow,
        DivisorHigh = _divisorHigh,
        FifoEnabled = _fifoEnabled,
        TransmitterEmptyPending = _transmitterEmptyPending,
        ModemStatusDeltas = _modemStatusDeltas,
        IrqAsserted = _irqAsserted,
        ReceiveFifo = [.. _receiveFifo],
        TransmittedBytes = TransmittedBytes,
        TransmitFifo = [.. _transmitFifo],
    });

    /// <inheritdoc/>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        State saved = MemoryPackSerializer.Deserialize<State>(state) ?? throw new InvalidDataException("empty UART state");
        _interruptEnable = saved.InterruptEnable;
        _lineControl = saved.LineControl;
        _modemControl = saved.ModemControl;
        _lineStatusErrors = saved.LineStatusErrors;
        _scratch = saved.Scratch;
        _divisorLow = saved.DivisorLow;
        _divisorHigh = saved.DivisorHigh;
        _fifoEnabled = saved.FifoEnabled;
        _transmitterEmptyPending = saved.TransmitterEmptyPending;
        _modemStatusDeltas = saved.ModemStatusDeltas;
        _irqAsserted = saved.IrqAsserted;
        _receiveFifo.Clear();
        foreach (byte b in saved.ReceiveFifo)
        {
            _receiveFifo.Enqueue(b);
        }

        TransmittedBytes = saved.TransmittedBytes;
        _transmitFifo.Clear();
        foreach (byte b in saved.TransmitFifo)
        {
            _transmitFifo.Enqueue(b);
        }

        if (_transmitFifo.Count > 0)
        {
            _context.SetTimer(_context.NowNanoseconds); // the line was busy: look again at once
        }
    }

    /// <inheritdoc/>
    public void OnTimer(long nowNanoseconds)
    {
        if (_transmitFifo.Count == 0)
        {
            return;
        }

        if (!TrySendWaitingBytes())
        {
            _context.SetTimer(nowNanoseconds + BusyLineRetryNanoseconds);
        }
    }

    /// <summary>Sends the bytes waiting for a busy line if its reader has caught up; false while it is still busy.</summary>
    private bool TrySendWaitingBytes()
    {
        if (_context.OutputBackedUp)
        {
            return false;
        }

        while (_transmitFifo.Count > 0)
        {
            Send(_transmitFifo.Dequeue());
        }

        _transmitterEmptyPending = true;
        UpdateIrq();
        return true;
    }

    /// <summary>
    /// Console input, flow-controlled: takes what fits the receive FIFO (16 bytes, or the one holding register
    /// while the FIFO is off). Nothing in loopback mode, where a 16550's serial input is disconnected.
    /// </summary>
    public int AcceptInput(ReadOnlySpan<byte> data)
    {
        if (Loopback)
        {
            return 0;
        }

        int room = Math.Max(0, ReceiveCapacity - _receiveFifo.Count);
        int taken = Math.Min(room, data.Length);
        for (int i = 0; i < taken; i++)
        {
            _receiveFifo.Enqueue(data[i]);
        }

        if (taken > 0)
        {
            UpdateIrq();
        }

        return taken;
    }

    /// <summary>Bytes arriving on the line with no flow control: past the FIFO's room they are an overrun.</summary>
    public void Receive(ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            EnqueueReceived(b);
        }

        UpdateIrq();
    }

    private void Transmit(byte data)
    {
        if (Loopback)
        {
            EnqueueReceived(data);
            _transmitterEmptyPending = true; // the byte went straight to the receiver: the holding register is empty
            return;
        }

        if (_transmitFifo.Count > 0)
        {
            // The line may have cleared since the timer last looked: the waiting bytes go first, then this one, as
            // they would have had the timer looked just before. (A restored device, replaying what its predecessor did
            // after that timer sent them, must not hold or lose this byte for want of a timer of its own.)
            TrySendWaitingBytes();
        }

        if (_transmitFifo.Count > 0 || _context.OutputBackedUp)
        {
            // The line is busy: the byte waits (or, with the FIFO full, is lost as on a 16550).
            if (_transmitFifo.Count < TransmitCapacity)
            {
                _transmitFifo.Enqueue(data);
            }

            if (_transmitFifo.Count == 1)
            {
                _context.SetTimer(_context.NowNanoseconds + BusyLineRetryNanoseconds);
            }

            _transmitterEmptyPending = false;
            return;
        }

        Send(data);
        _transmitterEmptyPending = true; // transmission is instant: the holding register is empty again at once
    }

    private void Send(byte data)
    {
        _oneByte[0] = data;
        _context.Output(_oneByte);
        TransmittedBytes++;
    }

    private void EnqueueReceived(byte data)
    {
        if (_receiveFifo.Count >= ReceiveCapacity)
        {
            _lineStatusErrors |= 0x02; // overrun
            return;
        }

        _receiveFifo.Enqueue(data);
    }

    private byte ReadReceiveBuffer()
    {
        byte data = _receiveFifo.Count > 0 ? _receiveFifo.Dequeue() : (byte)0;
        UpdateIrq();
        return data;
    }

    private byte ReadLineStatus()
    {
        if (_transmitFifo.Count > 0)
        {
            TrySendWaitingBytes(); // a guest polling for the line to clear sees it as soon as it does
        }

        // THR empty (bit 5) and transmitter empty (bit 6) unless bytes wait for a busy line.
        byte status = (byte)((_transmitFifo.Count == 0 ? 0x60 : 0) | _lineStatusErrors | (_receiveFifo.Count > 0 ? 0x01 : 0));
        _lineStatusErrors = 0; // error bits clear on read
        UpdateIrq();
        return status;
    }

    private byte ReadModemStatus()
    {
        byte lines = Loopback
            // Loopback wires RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
            ? (byte)(((_modemControl & 0x02) << 3) | ((_modemControl & 0x01) << 5) | ((_modemControl & 0x04) << 4) | ((_modemControl & 0x08) << 4))
            : (byte)0xB0; // CTS, DSR and DCD asserted: a terminal is attached
        byte status = (byte)(lines | _modemStatusDeltas);
        _modemStatusDeltas = 0;
        UpdateIrq();
        return status;
    }

    private byte ReadInterruptId()
    {
        byte id = CurrentInterruptId();
        if (id == 0x02)
        {
            // Reading IIR while it reports THR empty clears that interrupt.
            _transmitterEmptyPending = false;
            UpdateIrq();
        }

        return (byte)(id | (_fifoEnabled ? 0xC0 : 0));
    }

    /// <summary>The highest-priority pending interrupt, as IIR bits 0-3 (1 = none).</summary>
    private byte CurrentInterruptId()
    {
        if ((_interruptEnable & 0x04) != 0 && _lineStatusErrors != 0)
        {
            return 0x06;
        }

        if ((_interruptEnable & 0x01) != 0 && _receiveFifo.Count > 0)
        {
            return 0x04;
        }

        if ((_interruptEnable & 0x02) != 0 && _transmitterEmptyPending)
        {
            return 0x02;
        }

        if ((_interruptEnable & 0x08) != 0 && _modemStatusDeltas != 0)
        {
            return 0x00;
        }

        return 0x01;
    }

    private void WriteInterruptEnable(byte data)
    {
        bool enablingTransmitterEmpty = (data & 0x02) != 0 && (_interruptEnable & 0x02) == 0;
        _interruptEnable = (byte)(data & 0x0F);
        if (enablingTransmitterEmpty && _transmitFifo.Count == 0)
        {
            // The holding register is already empty: a 16550 raises the interrupt at once.
            _transmitterEmptyPending = true;
        }
    }

    private void WriteFifoControl(byte data)
    {
        _fifoEnabled = (data & 0x01) != 0;
        if ((data & 0x02) != 0)
        {
            _receiveFifo.Clear();
        }

        if ((data & 0x04) != 0 && _transmitFifo.Count > 0)
        {
            _transmitFifo.Clear(); // the held bytes are never sent; the holding register is empty
            _transmitterEmptyPending = true;
        }
    }

    private void WriteModemControl(byte data)
    {
        byte changed = (byte)((_modemControl ^ data) & 0x0F);
        _modemControl = (byte)(data & 0x1F);
        if (Loopback && changed != 0)
        {
            // Delta bits for CTS (from RTS), DSR (from DTR) and DCD (from OUT2); trailing edge of RI (OUT1 falling).
            bool ringEnded = (changed & 0x04) != 0 && (data & 0x04) == 0;
            _modemStatusDeltas |= (byte)(((changed & 0x02) != 0 ? 0x01 : 0) | ((changed & 0x01) != 0 ? 0x02 : 0)
                | (ringEnded ? 0x04 : 0) | ((changed & 0x08) != 0 ? 0x08 : 0));
        }
    }

    private void UpdateIrq()
    {
        // On a PC the UART's interrupt reaches the PIC only while OUT2 is set.
        bool asserted = CurrentInterruptId() != 0x01 && (_modemControl & 0x08) != 0;
        if (asserted != _irqAsserted)
        {
            _irqAsserted = asserted;
            _context.SetIrq(asserted);
        }
    }

    /// <summary>The UART's saved state. Append-only: never reorder, retype or remove a member.</summary>
    [MemoryPackable]
    internal sealed partial class State
    {
        public byte InterruptEnable { get; set; }

        public byte LineControl { get; set; }

        public byte ModemControl { get; set; }

        public byte LineStatusErrors { get; set; }

        public byte Scratch { get; set; }

        public byte DivisorLow { get; set; }

        public byte DivisorHigh { get; set; }

        public bool FifoEnabled { get; set; }

        public bool TransmitterEmptyPending { get; set; }

        public byte ModemStatusDeltas { get; set; }

        public bool IrqAsserted { get; set; }

        public byte[] ReceiveFifo { get; set; } = [];

        public long TransmittedBytes { get; set; }

        public byte[] TransmitFifo { get; set; } = [];
    }
}
