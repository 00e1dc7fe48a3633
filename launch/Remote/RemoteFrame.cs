using System.Buffers.Binary;
using System.Runtime.InteropServices;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Launch.Remote;

/// <summary>What a <see cref="RemoteFrame"/> carries.</summary>
public enum RemoteFrameType : byte
{
    /// <summary>Bridge → remote: a ring request, the machine time it was made at, and for a restore the state bytes.</summary>
    Request = 1,

    /// <summary>Remote → bridge: the reply to the last non-posted request, and for a save the state bytes.</summary>
    Reply = 2,

    /// <summary>Remote → bridge: an event the device posted (an interrupt line, a DMA-free notice).</summary>
    Event = 3,

    /// <summary>Either way: "still here"; from the bridge it also carries the machine time.</summary>
    Heartbeat = 4,
}

/// <summary>
/// The data plane between a remote bridge and the remote end (docs/remote-devices.md): the ring's 56-byte messages
/// one by one over a stream, with the machine time and, for snapshots, the state area's bytes that a ring keeps in
/// shared memory. Header: type (1 byte), 3 reserved, payload length (4, little-endian). A frame from the other side
/// is untrusted: an unknown type, a wrong length or a payload over <see cref="MaxPayload"/> ends the connection.
/// </summary>
public static class RemoteFrame
{
    /// <summary>Header bytes.</summary>
    public const int HeaderSize = 8;

    /// <summary>Machine time (8) plus a ring message.</summary>
    public const int MessagePayload = 8 + RingMessage.Size;

    /// <summary>Largest payload: a message with a whole state area.</summary>
    public const int MaxPayload = MessagePayload + SegmentLayout.StateAreaSize;

    /// <summary>
    /// Writes one frame to <paramref name="stream"/>, built in <paramref name="buffer"/> (<see cref="NewBuffer"/>; the
    /// caller's, so nothing is allocated per frame; callers serialise writers). With <paramref name="flush"/> false it may
    /// wait in the stream's buffer for the next flush (a batch of posted writes goes out as one).
    /// </summary>
    public static void Write(Stream stream, byte[] buffer, RemoteFrameType type, long machineTime, in RingMessage message, ReadOnlySpan<byte> state = default, bool flush = true)
    {
        int payload = type == RemoteFrameType.Heartbeat ? 8 : MessagePayload + state.Length;
        Span<byte> frame = buffer.AsSpan(0, HeaderSize + payload);
        frame[0] = (byte)type;
        frame[1..4].Clear();
        BinaryPrimitives.WriteInt32LittleEndian(frame[4..], payload);
        BinaryPrimitives.WriteInt64LittleEndian(frame[HeaderSize..], machineTime);
        if (type != RemoteFrameType.Heartbeat)
        {
            MemoryMarshal.Write(frame[(HeaderSize + 8)..], in message);
            state.CopyTo(frame[(HeaderSize + MessagePayload)..]);
        }

        stream.Write(frame);
        if (flush)
        {
            stream.Flush();
        }
    }

    /// <summary>
    /// Reads the next frame; false at the end of the stream. <paramref name="state"/> is the payload's state bytes
    /// (empty when there are none), valid until the next read.
    /// </summary>
    /// <exception cref="InvalidDataException">The frame is malformed.</exception>
    public static bool TryRead(Stream stream, byte[] buffer, out RemoteFrameType type, out long machineTime, out RingMessage message, out ReadOnlySpan<byte> state)
    {
        message = default;
        state = default;
        machineTime = 0;
        type = default;
        if (!ReadExactly(stream, buffer.AsSpan(0, HeaderSize)))
        {
            return false;
        }

        type = (RemoteFrameType)buffer[0];
        int payload = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(4));
        bool valid = type switch
        {
            RemoteFrameType.Heartbeat => payload == 8,
            RemoteFrameType.Request or RemoteFrameType.Reply => payload is >= MessagePayload and <= MaxPayload,
            RemoteFrameType.Event => payload == MessagePayload,
            _ => false,
        };
        if (!valid || buffer[1] != 0 || buffer[2] != 0 || buffer[3] != 0)
        {
            throw new InvalidDataException($"malformed frame (type {buffer[0]}, payload {payload} bytes)");
        }

        if (!ReadExactly(stream, buffer.AsSpan(HeaderSize, payload)))
        {
            throw new InvalidDataException("the stream ended inside a frame");
        }

        machineTime = BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(HeaderSize));
        if (type != RemoteFrameType.Heartbeat)
        {
            message = MemoryMarshal.Read<RingMessage>(buffer.AsSpan(HeaderSize + 8));
            state = buffer.AsSpan(HeaderSize + MessagePayload, payload - MessagePayload);
        }

        return true;
    }

    /// <summary>A buffer any frame fits in.</summary>
    public static byte[] NewBuffer() => new byte[HeaderSize + MaxPayload];

    private static bool ReadExactly(Stream stream, Span<byte> into)
    {
        int total = 0;
        while (total < into.Length)
        {
            int read = stream.Read(into[total..]);
            if (read == 0)
            {
                return total == 0 ? false : throw new InvalidDataException("the stream ended inside a frame");
            }

            total += read;
        }

        return true;
    }
}
