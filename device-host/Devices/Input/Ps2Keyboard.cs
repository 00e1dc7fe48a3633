using MemoryPack;

namespace SplitEmu.DeviceHost.Devices.Input;

/// <summary>
/// A PS/2 (MF2) keyboard as seen from its cable: it takes command bytes from the controller and queues the
/// bytes it sends back (acknowledges, self-test result, identity, scan codes). It has no keys of its own;
/// scan codes come from <see cref="EnqueueScanCode"/>.
/// </summary>
/// <remarks>
/// <para>
/// Every command and every argument byte is acknowledged with 0xFA, except echo (answered 0xEE) and resend
/// (answered with the last byte sent again). An unknown command is answered 0xFE (resend). While the keyboard
/// waits for a command's argument, a byte of 0xED or more is a new command and the pending one is dropped, as
/// on real keyboards.
/// </para>
/// <para>
/// The keyboard replies in the form the guest reads them: when the controller translates (its command byte's
/// bit 6), the identity's second byte and the scan-code-set number come out as their set-1 equivalents, as
/// behind a real translating 8042. Injected scan codes are not translated (see <see cref="EnqueueScanCode"/>).
/// </para>
/// </remarks>
internal sealed partial class Ps2Keyboard
{
    /// <summary>Bytes a keyboard buffers while the controller does not take them; later bytes are lost.</summary>
    public const int QueueCapacity = 16;

    // Commands (controller to keyboard).
    private const byte SetLeds = 0xED;
    private const byte Echo = 0xEE;
    private const byte ScanCodeSet = 0xF0;
    private const byte Identify = 0xF2;
    private const byte SetTypematic = 0xF3;
    private const byte Enable = 0xF4;
    private const byte DisableAndDefaults = 0xF5;
    private const byte SetDefaults = 0xF6;
    private const byte Set3AllTypematic = 0xF7; // F7-FA: scan code set 3 key modes, acknowledged and not modelled
    private const byte Set3AllMakeBreakTypematic = 0xFA;
    private const byte Resend = 0xFE;
    private const byte ResetAndSelfTest = 0xFF;

    /// <summary>The lowest byte value that is a command, never an argument.</summary>
    private const byte FirstCommand = 0xED;

    // Replies (keyboard to controller).
    private const byte Ack = 0xFA;
    private const byte SelfTestPassed = 0xAA;
    private const byte EchoReply = 0xEE;
    private const byte ResendReply = 0xFE;
    private const byte IdentityFirst = 0xAB;
    private const byte IdentitySecond = 0x83; // MF2 keyboard; 0x41 when translated

    /// <summary>Typematic default after reset: 500 ms delay, 10.9 characters per second.</summary>
    private const byte DefaultTypematic = 0x2B;

    private const byte DefaultScanCodeSet = 2;

    private readonly Queue<byte> _queue = new();

    /// <summary>The command that waits for its argument byte, or 0.</summary>
    private byte _pendingCommand;

    /// <summary>The last byte put on the wire (what a resend command repeats).</summary>
    private byte _lastSent = Ack;

    /// <summary>Creates the keyboard in its power-on state (scanning, set 2, LEDs off, nothing queued).</summary>
    public Ps2Keyboard() => Reset();

    /// <summary>Bytes waiting to go to the controller.</summary>
    public int QueuedCount => _queue.Count;

    /// <summary>The keyboard sends scan codes (enabled by 0xF4 and reset, stopped by 0xF5).</summary>
    public bool Scanning { get; private set; }

    /// <summary>The LED bits of the last 0xED command: scroll lock (bit 0), num lock (bit 1), caps lock (bit 2).</summary>
    public byte Leds { get; private set; }

    /// <summary>The typematic rate and delay byte of the last 0xF3 command.</summary>
    public byte Typematic { get; private set; }

    /// <summary>The scan code set (1, 2 or 3) the keyboard was told to use.</summary>
    public byte ScanCodeSetNumber { get; private set; }

    /// <summary>Power-on: defaults, scanning, queue empty.</summary>
    public void Reset()
    {
        _queue.Clear();
        _pendingCommand = 0;
        _lastSent = Ack;
        Leds = 0;
        Scanning = true;
        RestoreDefaults();
    }

    /// <summary>
    /// Takes one byte from the controller. <paramref name="translate"/> says whether the controller translates
    /// to scan code set 1 (so that the replies that depend on the set come out as the guest would read them).
    /// </summary>
    public void Receive(byte data, bool translate)
    {
        if (_pendingCommand != 0 && data < FirstCommand)
        {
            ReceiveArgument(data, translate);
            return;
        }

        _pendingCommand = 0;
        switch (data)
        {
            case SetLeds:
            case SetTypematic:
            case ScanCodeSet:
                _pendingCommand = data;
                Send(Ack);
                break;
            case Echo:
                Send(EchoReply);
                break;
            case Identify:
                Send(Ack);
                Send(IdentityFirst);
                Send(translate ? Translate(IdentitySecond) : IdentitySecond);
                break;
            case Enable:
                _queue.Clear();
                Scanning = true;
                Send(Ack);
                break;
            case DisableAndDefaults:
                _queue.Clear();
                Scanning = false;
                RestoreDefaults();
                Send(Ack);
                break;
            case SetDefaults:
                _queue.Clear();
                RestoreDefaults();
                Send(Ack);
                break;
            case >= Set3AllTypematic and <= Set3AllMakeBreakTypematic:
                Send(Ack);
                break;
            case Resend:
                Send(_lastSent);
                break;
            case ResetAndSelfTest:
                Reset();
                Send(Ack);
                Send(SelfTestPassed);
                break;
            default:
                Send(ResendReply);
                break;
        }
    }

    /// <summary>Takes the next byte for the controller, if any.</summary>
    public bool TryTake(out byte value) => _queue.TryDequeue(out value);

    /// <summary>
    /// Queues a byte of a key's scan code exactly as the guest is to read it (set 1 when the controller
    /// translates); it is not translated again. Dropped while scanning is off or the queue is full.
    /// </summary>
    /// <returns>False when the byte was dropped.</returns>
    public bool EnqueueScanCode(byte value)
    {
        if (!Scanning || _queue.Count >= QueueCapacity)
        {
            return false;
        }

        Send(value);
        return true;
    }

    /// <summary>The state to save.</summary>
    public State Save() => new()
    {
        Queue = [.. _queue],
        PendingCommand = _pendingCommand,
        LastSent = _lastSent,
        Scanning = Scanning,
        Leds = Leds,
        Typematic = Typematic,
        ScanCodeSet = ScanCodeSetNumber,
    };

    /// <summary>Replaces the state with <paramref name="state"/>.</summary>
    /// <exception cref="InvalidDataException">The state is not one this model produces.</exception>
    public void Restore(State state)
    {
        if (state.Queue.Length > QueueCapacity)
        {
            throw new InvalidDataException($"a PS/2 keyboard queues at most {QueueCapacity} bytes, not {state.Queue.Length}");
        }

        if (state.ScanCodeSet is < 1 or > 3)
        {
            throw new InvalidDataException($"scan code set {state.ScanCodeSet} does not exist");
        }

        _queue.Clear();
        foreach (byte b in state.Queue)
        {
            _queue.Enqueue(b);
        }

        _pendingCommand = state.PendingCommand;
        _lastSent = state.LastSent;
        Scanning = state.Scanning;
        Leds = state.Leds;
        Typematic = state.Typematic;
        ScanCodeSetNumber = state.ScanCodeSet;
    }

    /// <summary>
    /// The set-1 byte a translating 8042 turns a reply byte into. Only the bytes this keyboard sends in reply to
    /// commands are covered: the set numbers and 0x83 map to the set-1 codes of the same keys (F9, F7, F5, F7),
    /// and the other replies (0x80 and up) pass unchanged.
    /// </summary>
    private static byte Translate(byte value)
    {
        System.Diagnostics.Debug.Assert(value is >= 1 and <= 3 or >= 0x80, "only reply bytes are translated here");
        return value switch
        {
            1 => 0x43,
            2 => 0x41,
            3 => 0x3F,
            0x83 => 0x41,
            _ => value,
        };
    }

    private void ReceiveArgument(byte data, bool translate)
    {
        byte command = _pendingCommand;
        _pendingCommand = 0;
        switch (command)
        {
            case SetLeds:
                Leds = (byte)(data & 0x07);
                Send(Ack);
                break;
            case SetTypematic:
                Typematic = (byte)(data & 0x7F);
                Send(Ack);
                break;
            case ScanCodeSet when data == 0:
                Send(Ack);
                Send(translate ? Translate(ScanCodeSetNumber) : ScanCodeSetNumber);
                break;
            case ScanCodeSet when data <= 3:
                ScanCodeSetNumber = data;
                Send(Ack);
                break;
            default:
                Send(ResendReply); // a set that does not exist
                break;
        }
    }

    private void RestoreDefaults()
    {
        Typematic = DefaultTypematic;
        ScanCodeSetNumber = DefaultScanCodeSet;
    }

    private void Send(byte value)
    {
        if (_queue.Count < QueueCapacity)
        {
            _queue.Enqueue(value);
        }

        _lastSent = value;
    }

    /// <summary>The keyboard's saved state (part of the controller's; append-only).</summary>
    [MemoryPackable]
    internal sealed partial class State
    {
        public byte[] Queue { get; set; } = [];

        public byte PendingCommand { get; set; }

        public byte LastSent { get; set; }

        public bool Scanning { get; set; }

        public byte Leds { get; set; }

        public byte Typematic { get; set; }

        public byte ScanCodeSet { get; set; }
    }
}
