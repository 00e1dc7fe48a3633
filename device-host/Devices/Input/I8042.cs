using MemoryPack;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Devices.Input;

/// <summary>
/// The PC's 8042 keyboard controller in PS/2 mode: the data port 0x60, the status/command port 0x64, a
/// PS/2 keyboard on the first port and an auxiliary (mouse) port with nothing plugged in.
/// </summary>
/// <remarks>
/// <para>
/// Commands complete at once, so the input buffer is never full. The output buffer holds one byte. Bytes wait
/// for it in two places: the controller's own replies (command byte, test results, ports, and the bytes of
/// 0xD2/0xD3/0xD4), which go first, then the keyboard's queue, which the controller drains only while the
/// keyboard interface is enabled (command byte bit 4 clear), as a keyboard cannot clock bytes out while its
/// clock line is held.
/// </para>
/// <para>
/// IRQ 1 follows "output buffer full with a keyboard byte and command byte bit 0 set"; IRQ 12 the same for an
/// auxiliary byte and bit 1. A read of port 0x60 empties the buffer and drops the line before the next waiting
/// byte is loaded, so every byte gives an edge-triggered 8259 its own rising edge.
/// </para>
/// <para>
/// No mouse is attached: the auxiliary port exists (0xA7/0xA8 work, the interface test 0xA9 passes, the
/// loopback 0xD3 works), but a byte sent to it with 0xD4 is answered by the controller with 0xFE and the
/// status register's time-out bit, as a real controller does when no device clocks the byte in. Linux then
/// finds the port and no mouse behind it; SeaBIOS does not touch the port during its set-up.
/// </para>
/// <para>
/// A reset of the machine (command 0xFE, any of the pulse commands 0xF0-0xFF with bit 0 clear, or writing
/// the output port with bit 0 clear) is requested with <see cref="IDeviceContext.RequestMachineReset"/>, as a
/// PC's reset line: every device back to power-on, the CPU at its start state. The request is made once until
/// <see cref="Reset"/> (which the machine reset itself calls).
/// </para>
/// <para>
/// The output port's A20 bit (0xD1, 0xDD, 0xDF) is stored and read back, not wired: this machine does not
/// mask address line 20, so power-on reports it enabled. Scan code translation (command byte bit 6) is stored
/// and applied to the keyboard's replies; injected scan codes are taken as already translated
/// (<see cref="EnqueueScanCode"/>).
/// </para>
/// </remarks>
public sealed partial class I8042 : IDeviceModel<I8042>, ISnapshotable
{
    /// <summary>Profile type name.</summary>
    public const string TypeName = "i8042";

    /// <summary>What a profile may say about this type: the catalog's entry, declared here.</summary>
    public static DeviceTypeInfo Type { get; } = new(TypeName, PortCount: 0, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: [])
    {
        Summary = "PS/2 controller and keyboard; its reset line resets the machine",
        EndsMachine = true,
        FixedPorts = [new(0x60, 1), new(0x64, 1)],
        FixedIrqs = [1, 12],
    };

    /// <summary>Builds the device <paramref name="config"/> describes (the catalog's factory).</summary>
    public static I8042 Create(DeviceConfig config, IDeviceContext context) => new(config, context);

    /// <summary>Default data port; the status/command port is four above it.</summary>
    public const ushort DefaultDataPort = 0x60;

    /// <summary>Distance from the data port to the status/command port.</summary>
    public const ushort CommandPortOffset = 4;

    /// <summary>Index of the data port region in <see cref="Regions"/>.</summary>
    public const int DataRegion = 0;

    /// <summary>Index of the status/command port region in <see cref="Regions"/>.</summary>
    public const int CommandRegion = 1;

    /// <summary>ISA line of keyboard bytes.</summary>
    public const int KeyboardIrqLine = 1;

    /// <summary>ISA line of auxiliary (mouse) bytes.</summary>
    public const int AuxIrqLine = 12;

    /// <summary>Command byte at power-on: both interrupts enabled, both interfaces enabled, no translation.</summary>
    public const byte PowerOnCommandByte = CtrKeyboardInterrupt | CtrAuxInterrupt;

    /// <summary>
    /// Output port at power-on: reset line high (bit 0), A20 enabled (bit 1), clock and data lines of both ports
    /// idle high (bits 2-3 and 6-7); bits 4-5 are the interrupt outputs and read as the lines are.
    /// </summary>
    public const byte PowerOnOutputPort = 0xCF;

    /// <summary>Input port (0xC0): bit 7 set, the keyboard is not inhibited by a key lock; no other pin is wired.</summary>
    public const byte InputPort = 0x80;

    // Command byte (controller RAM byte 0).
    private const byte CtrKeyboardInterrupt = 0x01;
    private const byte CtrAuxInterrupt = 0x02;
    private const byte CtrSystemFlag = 0x04;
    private const byte CtrKeyboardDisabled = 0x10;
    private const byte CtrAuxDisabled = 0x20;
    private const byte CtrTranslate = 0x40;

    // Status register.
    private const byte StatusOutputFull = 0x01;
    private const byte StatusSystemFlag = 0x04;
    private const byte StatusLastWasCommand = 0x08;
    private const byte StatusNotInhibited = 0x10;
    private const byte StatusAuxData = 0x20;
    private const byte StatusTimeout = 0x40;

    // Output port.
    private const byte OutResetHigh = 0x01;
    private const byte OutA20 = 0x02;
    private const byte OutKeyboardFull = 0x10;
    private const byte OutAuxFull = 0x20;

    // Controller commands (port 0x64).
    private const byte CmdReadRamFirst = 0x20; // 0x20 reads the command byte, 0x21-0x3F the rest of RAM
    private const byte CmdReadRamLast = 0x3F;
    private const byte CmdWriteRamFirst = 0x60; // 0x60 writes the command byte, 0x61-0x7F the rest of RAM
    private const byte CmdWriteRamLast = 0x7F;
    private const byte CmdPasswordInstalled = 0xA4;
    private const byte CmdAuxDisable = 0xA7;
    private const byte CmdAuxEnable = 0xA8;
    private const byte CmdAuxTest = 0xA9;
    private const byte CmdSelfTest = 0xAA;
    private const byte CmdKeyboardTest = 0xAB;
    private const byte CmdKeyboardDisable = 0xAD;
    private const byte CmdKeyboardEnable = 0xAE;
    private const byte CmdReadInputPort = 0xC0;
    private const byte CmdReadOutputPort = 0xD0;
    private const byte CmdWriteOutputPort = 0xD1;
    private const byte CmdWriteKeyboardBuffer = 0xD2;
    private const byte CmdWriteAuxBuffer = 0xD3;
    private const byte CmdWriteAux = 0xD4;
    private const byte CmdA20Disable = 0xDD;
    private const byte CmdA20Enable = 0xDF;
    private const byte CmdPulseFirst = 0xF0; // 0xF0-0xFF pulse output port bits 0-3 low where the command's bit is 0

    // Replies.
    private const byte SelfTestPassed = 0x55;
    private const byte InterfaceOk = 0x00;
    private const byte NoPassword = 0xF1;
    private const byte NoDeviceReply = 0xFE;

    private const int RamSize = 32;

    /// <summary>Controller replies waiting for the output buffer; more than this means the guest never reads.</summary>
    private const int ReplyQueueCapacity = 16;

    // Flags of an entry in the output buffer or the reply queue (bits 8 and up; the byte is bits 0-7).
    private const int FromAux = 0x100;
    private const int WithTimeout = 0x200;

    private readonly IDeviceContext _context;
    private readonly Ps2Keyboard _keyboard = new();

    /// <summary>Controller replies not yet in the output buffer: byte plus <see cref="FromAux"/>/<see cref="WithTimeout"/>.</summary>
    private readonly Queue<int> _replies = new();

    /// <summary>The controller's RAM; byte 0 is the command byte.</summary>
    private byte[] _ram = new byte[RamSize];

    private byte _outputPort;

    /// <summary>The output buffer's byte plus flags, or -1 when it is empty.</summary>
    private int _output = -1;

    /// <summary>The last byte the guest read from port 0x60 (read again while the buffer is empty).</summary>
    private byte _lastRead;

    /// <summary>The controller command whose data byte the next write to port 0x60 is, or 0.</summary>
    private byte _pendingCommand;

    /// <summary>Status bit 3: the last write went to port 0x64.</summary>
    private bool _lastWriteWasCommand;

    /// <summary>A reset of the machine was requested (once until <see cref="Reset"/>).</summary>
    private bool _resetRequested;

    private bool _keyboardIrq;
    private bool _auxIrq;

    /// <summary>Creates the controller with its data port at the profile's I/O base (0x60 by default).</summary>
    public I8042(DeviceConfig config, IDeviceContext context)
    {
        _context = context;
        ushort dataPort = config.Io ?? DefaultDataPort;
        Regions =
        [
            // Byte-wide ports (QEMU's i8042_data_ops and i8042_cmd_ops: 1..1).
            new DeviceRegionInfo("data", AddressSpaceKind.Io, dataPort, 1, MinAccessSize: 1, MaxAccessSize: 1),
            new DeviceRegionInfo("command", AddressSpaceKind.Io, (ulong)dataPort + CommandPortOffset, 1, MinAccessSize: 1, MaxAccessSize: 1),
        ];
        Reset();
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <summary>The command byte (controller RAM byte 0).</summary>
    public byte CommandByte => _ram[0];

    /// <summary>The output port as last written (bits 4-5 are computed when it is read by the guest).</summary>
    public byte OutputPort => _outputPort;

    /// <summary>The keyboard's LED bits (scroll lock 0, num lock 1, caps lock 2).</summary>
    public byte KeyboardLeds => _keyboard.Leds;

    /// <summary>The keyboard's typematic byte.</summary>
    public byte KeyboardTypematic => _keyboard.Typematic;

    /// <summary>The keyboard's scan code set (1-3).</summary>
    public byte KeyboardScanCodeSet => _keyboard.ScanCodeSetNumber;

    /// <summary>The keyboard sends scan codes.</summary>
    public bool KeyboardScanning => _keyboard.Scanning;

    private bool Translating => (_ram[0] & CtrTranslate) != 0;

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size)
    {
        byte value = region == DataRegion ? ReadData() : ReadStatus();
        return value;
    }

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value)
    {
        if (region == DataRegion)
        {
            WriteData((byte)value);
        }
        else
        {
            WriteCommand((byte)value);
        }

        Refill();
        UpdateIrqLines();
    }

    /// <summary>Power-on: command byte and ports at their defaults, buffers empty, keyboard reset, lines low.</summary>
    public void Reset()
    {
        _ram = new byte[RamSize];
        _ram[0] = PowerOnCommandByte;
        _outputPort = PowerOnOutputPort;
        _replies.Clear();
        _output = -1;
        _lastRead = 0;
        _pendingCommand = 0;
        _lastWriteWasCommand = false;
        _resetRequested = false;
        _keyboard.Reset();
        UpdateIrqLines();
    }

    /// <summary>
    /// Queues one byte of a key's scan code from the keyboard, as the guest is to read it: set 1 when the
    /// command byte asks for translation, which is the usual case. Not reachable from the guest; for a console.
    /// </summary>
    /// <returns>False when the keyboard dropped it (scanning off, or its 16-byte buffer full).</returns>
    public bool EnqueueScanCode(byte value)
    {
        bool queued = _keyboard.EnqueueScanCode(value);
        Refill();
        UpdateIrqLines();
        return queued;
    }

    /// <inheritdoc/>
    public byte[] SaveState() => MemoryPackSerializer.Serialize(new State
    {
        Ram = [.. _ram],
        OutputPort = _outputPort,
        Replies = [.. _replies],
        Output = _output,
        LastRead = _lastRead,
        PendingCommand = _pendingCommand,
        LastWriteWasCommand = _lastWriteWasCommand,
        ResetRequested = _resetRequested,
        KeyboardIrq = _keyboardIrq,
        AuxIrq = _auxIrq,
        Keyboard = _keyboard.Save(),
    });

    /// <inheritdoc/>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        State saved;
        try
        {
            saved = MemoryPackSerializer.Deserialize<State>(state) ?? throw new InvalidDataException("empty i8042 state");
        }
        catch (MemoryPackSerializationException e)
        {
            throw new InvalidDataException("not an i8042 state", e);
        }

        if (saved.Ram.Length != RamSize)
        {
            throw new InvalidDataException($"an i8042 state has {RamSize} bytes of RAM, not {saved.Ram.Length}");
        }

        if (saved.Output is < -1 or > (0xFF | FromAux | WithTimeout))
        {
            throw new InvalidDataException($"an i8042 output buffer of {saved.Output} is not a byte with flags");
        }

        if (saved.Replies.Length > ReplyQueueCapacity)
        {
            throw new InvalidDataException($"an i8042 queues at most {ReplyQueueCapacity} replies, not {saved.Replies.Length}");
        }

        _keyboard.Restore(saved.Keyboard ?? throw new InvalidDataException("an i8042 state without its keyboard"));
        _ram = [.. saved.Ram];
        _outputPort = saved.OutputPort;
        _replies.Clear();
        foreach (int reply in saved.Replies)
        {
            _replies.Enqueue(reply);
        }

        _output = saved.Output;
        _lastRead = saved.LastRead;
        _pendingCommand = saved.PendingCommand;
        _lastWriteWasCommand = saved.LastWriteWasCommand;
        _resetRequested = saved.ResetRequested;

        // The lines are re-driven to what they were: the interrupt controller may have lost them with this device.
        _keyboardIrq = saved.KeyboardIrq;
        _auxIrq = saved.AuxIrq;
        _context.SetIrqLine(KeyboardIrqLine, _keyboardIrq);
        _context.SetIrqLine(AuxIrqLine, _auxIrq);
    }

    private byte ReadStatus()
    {
        int status = StatusNotInhibited;
        if (_output >= 0)
        {
            status |= StatusOutputFull;
            status |= (_output & FromAux) != 0 ? StatusAuxData : 0;
            status |= (_output & WithTimeout) != 0 ? StatusTimeout : 0;
        }

        status |= (_ram[0] & CtrSystemFlag) != 0 ? StatusSystemFlag : 0;
        status |= _lastWriteWasCommand ? StatusLastWasCommand : 0;
        return (byte)status;
    }

    private byte ReadData()
    {
        if (_output < 0)
        {
            return _lastRead; // an empty buffer reads as the byte it last held
        }

        _lastRead = (byte)_output;
        _output = -1;
        UpdateIrqLines(); // the line falls here, so a next byte raises it again
        Refill();
        UpdateIrqLines();
        return _lastRead;
    }

    private void WriteData(byte value)
    {
        _lastWriteWasCommand = false;
        byte command = _pendingCommand;
        _pendingCommand = 0;
        switch (command)
        {
            case >= CmdWriteRamFirst and <= CmdWriteRamLast:
                _ram[command - CmdWriteRamFirst] = value;
                break;
            case CmdWriteOutputPort:
                _outputPort = value;
                if ((value & OutResetHigh) == 0)
                {
                    RequestReset();
                }

                break;
            case CmdWriteKeyboardBuffer:
                Reply(value);
                break;
            case CmdWriteAuxBuffer:
                Reply(value | FromAux);
                break;
            case CmdWriteAux:
                Reply(NoDeviceReply | FromAux | WithTimeout);
                break;
            default:
                // A byte for the keyboard. Sending enables the keyboard interface again, as controllers do.
                _ram[0] &= unchecked((byte)~CtrKeyboardDisabled);
                _keyboard.Receive(value, Translating);
                break;
        }
    }

    private void WriteCommand(byte command)
    {
        _lastWriteWasCommand = true;
        _pendingCommand = 0; // a new command abandons one that waited for its data byte
        switch (command)
        {
            case >= CmdReadRamFirst and <= CmdReadRamLast:
                Reply(_ram[command - CmdReadRamFirst]);
                break;
            case >= CmdWriteRamFirst and <= CmdWriteRamLast:
            case CmdWriteOutputPort:
            case CmdWriteKeyboardBuffer:
            case CmdWriteAuxBuffer:
            case CmdWriteAux:
                _pendingCommand = command;
                break;
            case CmdPasswordInstalled:
                Reply(NoPassword);
                break;
            case CmdAuxDisable:
                _ram[0] |= CtrAuxDisabled;
                break;
            case CmdAuxEnable:
                _ram[0] &= unchecked((byte)~CtrAuxDisabled);
                break;
            case CmdAuxTest:
            case CmdKeyboardTest:
                Reply(InterfaceOk);
                break;
            case CmdSelfTest:
                _ram[0] |= CtrSystemFlag; // a passed self-test sets the system flag
                Reply(SelfTestPassed);
                break;
            case CmdKeyboardDisable:
                _ram[0] |= CtrKeyboardDisabled;
                break;
            case CmdKeyboardEnable:
                _ram[0] &= unchecked((byte)~CtrKeyboardDisabled);
                break;
            case CmdReadInputPort:
                Reply(InputPort);
                break;
            case CmdReadOutputPort:
                Reply((_outputPort & ~(OutKeyboardFull | OutAuxFull)) | (_keyboardIrq ? OutKeyboardFull : 0) | (_auxIrq ? OutAuxFull : 0));
                break;
            case CmdA20Disable:
                _outputPort &= unchecked((byte)~OutA20);
                break;
            case CmdA20Enable:
                _outputPort |= OutA20;
                break;
            case >= CmdPulseFirst:
                if ((command & OutResetHigh) == 0)
                {
                    RequestReset();
                }

                break;
            default:
                break; // commands of other 8042 firmwares (passwords, diagnostics) are ignored
        }
    }

    private void Reply(int entry)
    {
        if (_replies.Count < ReplyQueueCapacity)
        {
            _replies.Enqueue(entry);
        }
    }

    /// <summary>Loads the next waiting byte into an empty output buffer: controller replies first, then the keyboard's.</summary>
    private void Refill()
    {
        if (_output >= 0)
        {
            return;
        }

        if (_replies.TryDequeue(out int reply))
        {
            _output = reply;
        }
        else if ((_ram[0] & CtrKeyboardDisabled) == 0 && _keyboard.TryTake(out byte value))
        {
            _output = value;
        }
    }

    private void UpdateIrqLines()
    {
        bool full = _output >= 0;
        bool aux = (_output & FromAux) != 0;
        bool keyboardIrq = full && !aux && (_ram[0] & CtrKeyboardInterrupt) != 0;
        bool auxIrq = full && aux && (_ram[0] & CtrAuxInterrupt) != 0;
        if (keyboardIrq != _keyboardIrq)
        {
            _keyboardIrq = keyboardIrq;
            _context.SetIrqLine(KeyboardIrqLine, keyboardIrq);
        }

        if (auxIrq != _auxIrq)
        {
            _auxIrq = auxIrq;
            _context.SetIrqLine(AuxIrqLine, auxIrq);
        }
    }

    private void RequestReset()
    {
        if (_resetRequested)
        {
            return;
        }

        _resetRequested = true;
        _context.RequestMachineReset();
    }

    [MemoryPackable]
    internal sealed partial class State
    {
        public byte[] Ram { get; set; } = [];

        public byte OutputPort { get; set; }

        public int[] Replies { get; set; } = [];

        public int Output { get; set; } = -1;

        public byte LastRead { get; set; }

        public byte PendingCommand { get; set; }

        public bool LastWriteWasCommand { get; set; }

        public bool ResetRequested { get; set; }

        public bool KeyboardIrq { get; set; }

        public bool AuxIrq { get; set; }

        public Ps2Keyboard.State? Keyboard { get; set; }
    }
}
