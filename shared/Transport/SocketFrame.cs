using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace SplitEmu.Shared.Transport;

/// <summary>What a socket frame carries.</summary>
public enum SocketFrameType : byte
{
    /// <summary>Never valid on the wire.</summary>
    None = 0,

    /// <summary>CPU to device: a request.</summary>
    Request = 1,

    /// <summary>Device to CPU: the reply to the request in flight.</summary>
    Reply = 2,

    /// <summary>Device to CPU on the event connection: an event.</summary>
    Event = 3,

    /// <summary>Device to CPU, first frame of each connection: which connection this is (<see cref="SocketFrame.HelloRequests"/> or <see cref="SocketFrame.HelloEvents"/> in the message's Value).</summary>
    Hello = 4,
}

/// <summary>
/// The socket transport's wire format: one fixed 64-byte frame per message, the way QEMU's multi-process mode
/// and vfio-user send one message per access. Bytes 0-3 magic, byte 4 <see cref="SocketFrameType"/>, bytes 5-7
/// zero, bytes 8-63 the <see cref="RingMessage"/> as in a ring slot. Every frame from the device is checked.
/// </summary>
public static unsafe partial class SocketFrame
{
    /// <summary>Bytes per frame.</summary>
    public const int Size = 64;

    /// <summary>"SEF1" in little-endian ASCII.</summary>
    public const uint Magic = 0x3146_4553;

    /// <summary>Hello value of the request/reply connection.</summary>
    public const ulong HelloRequests = 1;

    /// <summary>Hello value of the event connection.</summary>
    public const ulong HelloEvents = 2;

    private const int MessageOffset = 8;

    /// <summary>Writes a frame into <paramref name="frame"/> (64 bytes).</summary>
    public static void Encode(Span<byte> frame, SocketFrameType type, in RingMessage message)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(frame, Magic);
        frame[4] = (byte)type;
        frame[5] = 0;
        frame[6] = 0;
        frame[7] = 0;
        MemoryMarshal.Write(frame[MessageOffset..], in message);
    }

    /// <summary>Reads a frame; false if its magic, type byte or padding is wrong.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> frame, out SocketFrameType type, out RingMessage message)
    {
        type = (SocketFrameType)frame[4];
        if (BinaryPrimitives.ReadUInt32LittleEndian(frame) != Magic || frame[5] != 0 || frame[6] != 0 || frame[7] != 0
            || type is SocketFrameType.None or > SocketFrameType.Hello)
        {
            message = default;
            return false;
        }

        message = MemoryMarshal.Read<RingMessage>(frame[MessageOffset..]);
        return true;
    }

    /// <summary>Sends all of <paramref name="frame"/>; false if the connection is gone.</summary>
    /// <remarks>
    /// One send(2) per frame, straight to libc: the baseline should cost what a C peer's message costs, not
    /// .NET's socket bookkeeping on top.
    /// </remarks>
    public static bool SendAll(Socket socket, ReadOnlySpan<byte> frame)
    {
        int fd = (int)socket.Handle;
        while (!frame.IsEmpty)
        {
            nint sent;
            fixed (byte* data = frame)
            {
                sent = LibcSend(fd, data, frame.Length, MsgNoSignal);
            }

            if (sent <= 0)
            {
                if (sent < 0 && Marshal.GetLastPInvokeError() == Eintr)
                {
                    continue;
                }

                return false;
            }

            frame = frame[(int)sent..];
        }

        return true;
    }

    /// <summary>
    /// One recv(2) into <paramref name="into"/>: bytes read (0: the peer closed), or 0 with
    /// <paramref name="error"/> set (<see cref="SocketError.WouldBlock"/> for a timeout or nothing ready,
    /// <see cref="SocketError.Interrupted"/>, or <see cref="SocketError.SocketError"/> when broken).
    /// </summary>
    public static int Receive(Socket socket, Span<byte> into, bool dontWait, out SocketError error)
    {
        nint read;
        fixed (byte* data = into)
        {
            read = LibcRecv((int)socket.Handle, data, into.Length, dontWait ? MsgDontWait : 0);
        }

        if (read >= 0)
        {
            error = SocketError.Success;
            return (int)read;
        }

        error = Marshal.GetLastPInvokeError() switch
        {
            Eagain => SocketError.WouldBlock,
            Eintr => SocketError.Interrupted,
            _ => SocketError.SocketError,
        };
        return 0;
    }

    private const int MsgDontWait = 0x40, MsgNoSignal = 0x4000, Eintr = 4, Eagain = 11;

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint LibcSend(int fd, byte* data, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint LibcRecv(int fd, byte* data, nint length, int flags);
}
