using SplitEmu.DeviceHost.Devices.Input;

namespace SplitEmu.Tests.Devices.Input;

/// <summary>
/// Drives an <see cref="I8042"/> at the port level the way SeaBIOS's PS/2 set-up does (our own rendering of
/// its observable sequence, from reading src/hw/ps2port.c): flush, controller self-test, keyboard interface
/// test, then keyboard commands each wrapped in command-byte writes that mask interrupts and open only the
/// keyboard's interface. A wait that would have timed out on the machine is counted in <see cref="Timeouts"/>.
/// </summary>
internal sealed class SeaBiosPs2(I8042 controller)
{
    /// <summary>Status polls a wait makes before it gives up (SeaBIOS polls 10000 times, 50 µs apart).</summary>
    private const int PollLimit = 10000;

    /// <summary>Bytes a flush reads before it declares the controller stuck (SeaBIOS's buffer size).</summary>
    private const int FlushLimit = 16;

    private const byte OutputFull = 0x01;
    private const byte InputFull = 0x02;
    private const byte AuxData = 0x20;

    private const byte CtrKeyboardInterrupt = 0x01;
    private const byte CtrAuxInterrupt = 0x02;
    private const byte CtrKeyboardDisabled = 0x10;
    private const byte CtrAuxDisabled = 0x20;
    private const byte CtrTranslate = 0x40;

    private const byte Ack = 0xFA;
    private const byte Nak = 0xFE;

    /// <summary>The command byte the BIOS keeps and restores after each keyboard command.</summary>
    private byte _ctr;

    /// <summary>Waits that timed out (each is a "WARNING - Timeout" line in SeaBIOS's log).</summary>
    public int Timeouts { get; private set; }

    /// <summary>Bytes that arrived and were not part of the command being run.</summary>
    public int Discarded { get; private set; }

    /// <summary>Bytes the flush read out.</summary>
    public int Flushed { get; private set; }

    /// <summary>Why the set-up stopped, or null.</summary>
    public string? Failure { get; private set; }

    /// <summary>The whole keyboard set-up; true where SeaBIOS would log "PS2 keyboard initialized".</summary>
    public bool KeyboardSetup()
    {
        if (!Flush())
        {
            return Fail("flush");
        }

        if (ControllerCommand(0xAA, [], 1) is not [0x55])
        {
            return Fail("controller self-test");
        }

        if (ControllerCommand(0xAB, [], 1) is not [0x00])
        {
            return Fail("keyboard interface test");
        }

        _ctr = CtrKeyboardDisabled | CtrAuxDisabled;
        if (KeyboardCommand(0xFF, [], receive: 2, secondByteOptional: true) is not [0xAA, _])
        {
            return Fail("keyboard reset");
        }

        if (KeyboardCommand(0xF5, [], 0) is null)
        {
            return Fail("keyboard disable");
        }

        if (KeyboardCommand(0xF0, [0x02], 0) is null)
        {
            return Fail("scan code set 2");
        }

        _ctr = CtrAuxDisabled | CtrTranslate | CtrKeyboardInterrupt;
        if (KeyboardCommand(0xF4, [], 0) is null)
        {
            return Fail("keyboard enable");
        }

        return true;
    }

    /// <summary>Reads out whatever waits in the controller; false when it never empties.</summary>
    public bool Flush()
    {
        for (int i = 0; i < FlushLimit; i++)
        {
            if ((Status() & OutputFull) == 0)
            {
                return true;
            }

            ReadData();
            Flushed++;
        }

        Timeouts++;
        return false;
    }

    /// <summary>A controller command with its data bytes and replies; null on a timeout.</summary>
    public byte[]? ControllerCommand(byte command, byte[] send, int receive)
    {
        if (!WaitWrite())
        {
            return null;
        }

        controller.Write(I8042.CommandRegion, 0, 1, command);
        foreach (byte b in send)
        {
            if (!WaitWrite())
            {
                return null;
            }

            controller.Write(I8042.DataRegion, 0, 1, b);
        }

        byte[] replies = new byte[receive];
        for (int i = 0; i < receive; i++)
        {
            if (!WaitRead())
            {
                return null;
            }

            replies[i] = ReadData();
        }

        return replies;
    }

    /// <summary>
    /// A keyboard command: mask interrupts and both interfaces, open the keyboard's, send the command and its
    /// arguments (each must be acknowledged), receive the replies, put the command byte back. Null on failure.
    /// </summary>
    public byte[]? KeyboardCommand(byte command, byte[] send, int receive, bool secondByteOptional = false)
    {
        byte masked = (byte)((_ctr | CtrKeyboardDisabled | CtrAuxDisabled) & ~(CtrKeyboardInterrupt | CtrAuxInterrupt));
        if (ControllerCommand(0x60, [masked], 0) is null
            || ControllerCommand(0x60, [(byte)(masked & ~CtrKeyboardDisabled)], 0) is null)
        {
            return null;
        }

        byte[]? replies = SendAndReceive(command, send, receive, secondByteOptional);
        return ControllerCommand(0x60, [_ctr], 0) is null ? null : replies;
    }

    private byte[]? SendAndReceive(byte command, byte[] send, int receive, bool secondByteOptional)
    {
        if (!SendByte(command))
        {
            return null;
        }

        foreach (byte b in send)
        {
            if (!SendByte(b))
            {
                return null;
            }
        }

        byte[] replies = new byte[receive];
        for (int i = 0; i < receive; i++)
        {
            int reply = ReceiveKeyboardByte(needAck: false);
            if (reply < 0)
            {
                if (secondByteOptional && i == 1)
                {
                    Timeouts--; // SeaBIOS waits only briefly for a second reset byte and does not warn
                    break;
                }

                return null;
            }

            replies[i] = (byte)reply;
        }

        return replies;
    }

    private bool SendByte(byte value)
    {
        if (!WaitWrite())
        {
            return false;
        }

        controller.Write(I8042.DataRegion, 0, 1, value);
        return ReceiveKeyboardByte(needAck: true) == Ack;
    }

    /// <summary>The next keyboard byte (an acknowledge when <paramref name="needAck"/>), discarding others; -1 on a timeout.</summary>
    private int ReceiveKeyboardByte(bool needAck)
    {
        for (int i = 0; i < PollLimit; i++)
        {
            byte status = Status();
            if ((status & OutputFull) == 0)
            {
                continue;
            }

            byte data = ReadData();
            bool fromKeyboard = (status & AuxData) == 0;
            if (fromKeyboard && (!needAck || data is Ack or Nak))
            {
                return data;
            }

            Discarded++;
        }

        Timeouts++;
        return -1;
    }

    private bool WaitRead() => Wait(OutputFull, OutputFull);

    private bool WaitWrite() => Wait(InputFull, 0);

    private bool Wait(byte mask, byte expected)
    {
        for (int i = 0; i < PollLimit; i++)
        {
            if ((Status() & mask) == expected)
            {
                return true;
            }
        }

        Timeouts++;
        return false;
    }

    private bool Fail(string step)
    {
        Failure = $"{step} failed (timeouts {Timeouts})";
        return false;
    }

    private byte Status() => (byte)controller.Read(I8042.CommandRegion, 0, 1);

    private byte ReadData() => (byte)controller.Read(I8042.DataRegion, 0, 1);
}
