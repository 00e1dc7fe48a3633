using System.Buffers.Binary;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Remote;

/// <summary>
/// The DMA channel between a remote bridge and the remote end: a remote bus master's transfers, one at a time (a
/// transfer holds the bus, and its device's thread waits for it). A request is op (1 byte: 1 read, 2 write), 3
/// reserved, length (4, little-endian), guest address (8), then for a write the bytes; the reply is status (1 byte: 1
/// done, 0 refused), 3 reserved, length (4), then for a read that was done the bytes. Binary and sequential on purpose:
/// the bridge reads the next request only after answering the last, so a host that sends requests and never reads the
/// answers stalls its own channel instead of making the bridge keep them (and no base64, no JSON).
/// </summary>
public static class RemoteDmaFrame
{
    /// <summary>Bytes of a request's header.</summary>
    public const int RequestHeaderSize = 16;

    /// <summary>Bytes of a reply's header.</summary>
    public const int ReplyHeaderSize = 8;

    /// <summary>Reads guest RAM.</summary>
    public const byte Read = 1;

    /// <summary>Writes guest RAM.</summary>
    public const byte Write = 2;

    /// <summary>Builds a request header in <paramref name="header"/>.</summary>
    public static void WriteRequest(Span<byte> header, byte op, int length, ulong address)
    {
        header[0] = op;
        header[1..4].Clear();
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], length);
        BinaryPrimitives.WriteUInt64LittleEndian(header[8..], address);
    }

    /// <summary>Parses a request header from the untrusted side.</summary>
    /// <exception cref="InvalidDataException">It is malformed or asks for more than <see cref="IRemoteDma.MaxBytes"/>.</exception>
    public static (byte Op, int Length, ulong Address) ParseRequest(ReadOnlySpan<byte> header)
    {
        byte op = header[0];
        int length = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        if (op is not (Read or Write) || header[1] != 0 || header[2] != 0 || header[3] != 0 || length is < 0 or > IRemoteDma.MaxBytes)
        {
            throw new InvalidDataException($"malformed DMA request (op {op}, {length} bytes)");
        }

        return (op, length, BinaryPrimitives.ReadUInt64LittleEndian(header[8..]));
    }

    /// <summary>Builds a reply header in <paramref name="header"/>.</summary>
    public static void WriteReply(Span<byte> header, bool done, int length)
    {
        header[0] = done ? (byte)1 : (byte)0;
        header[1..4].Clear();
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], length);
    }

    /// <summary>Parses a reply header: whether the transfer was done, and the bytes that follow (a done read's, or none).</summary>
    /// <exception cref="InvalidDataException">It does not answer a request of <paramref name="op"/> for <paramref name="requested"/> bytes.</exception>
    public static (bool Done, int Following) ParseReply(ReadOnlySpan<byte> header, byte op, int requested)
    {
        bool done = header[0] == 1;
        int length = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        int expected = done && op == Read ? requested : 0;
        if (header[0] > 1 || header[1] != 0 || header[2] != 0 || header[3] != 0 || length != expected)
        {
            throw new InvalidDataException($"malformed DMA reply (status {header[0]}, {length} bytes)");
        }

        return (done, length);
    }
}
