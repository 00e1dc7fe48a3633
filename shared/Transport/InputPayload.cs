using System.Buffers.Binary;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// Console input in one ring message (<see cref="MessageKind.Input"/>): up to <see cref="MaxBytes"/> bytes in
/// <see cref="RingMessage.Value"/>, their count in <see cref="RingMessage.AccessSize"/>. Self-contained, so the
/// journal can keep the request as it keeps an access and replay it unchanged after a crash.
/// </summary>
public static class InputPayload
{
    /// <summary>Bytes one message carries (the width of <see cref="RingMessage.Value"/>).</summary>
    public const int MaxBytes = sizeof(ulong);

    /// <summary>A request carrying the first <see cref="MaxBytes"/> (at most) bytes of <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="data"/> is empty.</exception>
    public static RingMessage Request(ushort device, ushort region, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            throw new ArgumentException("console input needs at least one byte", nameof(data));
        }

        int count = Math.Min(data.Length, MaxBytes);
        Span<byte> packed = stackalloc byte[MaxBytes];
        packed.Clear();
        data[..count].CopyTo(packed);
        return new RingMessage
        {
            Kind = MessageKind.Input,
            AccessSize = (byte)count,
            Device = device,
            Region = region,
            Value = BinaryPrimitives.ReadUInt64LittleEndian(packed),
        };
    }

    /// <summary>
    /// The bytes <paramref name="request"/> carries, written to <paramref name="destination"/> (at least
    /// <see cref="MaxBytes"/> long); their count, or -1 when the count is not 1 to <see cref="MaxBytes"/>.
    /// </summary>
    public static int Unpack(in RingMessage request, Span<byte> destination)
    {
        int count = request.AccessSize;
        if (count is < 1 or > MaxBytes)
        {
            return -1;
        }

        Span<byte> packed = stackalloc byte[MaxBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(packed, request.Value);
        packed[..count].CopyTo(destination);
        return count;
    }
}
