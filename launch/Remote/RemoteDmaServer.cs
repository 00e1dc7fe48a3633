using SplitEmu.DeviceHost.Common;

namespace SplitEmu.Launch.Remote;

/// <summary>
/// The bridge's end of the DMA channel (<see cref="RemoteDmaFrame"/>): serves a remote bus master's transfers against
/// guest RAM, each checked against the granted windows exactly as a mapping's bounds are. One transfer at a time, each
/// answered before the next is read, in one buffer: what an exploited host can make this side hold is one transfer.
/// </summary>
public sealed class RemoteDmaServer(Stream channel, Func<IGuestMemory?> guestMemory)
{
    /// <summary>Serves transfers until the channel ends.</summary>
    /// <exception cref="InvalidDataException">A request is malformed (the bridge then ends: a broken protocol is a crash).</exception>
    public void Serve()
    {
        byte[] header = new byte[RemoteDmaFrame.RequestHeaderSize];
        byte[] buffer = [];
        while (channel.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) is int got && got > 0)
        {
            if (got < header.Length)
            {
                throw new InvalidDataException("the DMA channel ended inside a request");
            }

            (byte op, int length, ulong address) = RemoteDmaFrame.ParseRequest(header);
            if (buffer.Length < length)
            {
                buffer = new byte[length]; // grows to the largest transfer seen, at most IRemoteDma.MaxBytes
            }

            Span<byte> bytes = buffer.AsSpan(0, length);
            bool done;
            if (op == RemoteDmaFrame.Write)
            {
                channel.ReadExactly(bytes);
                done = guestMemory() is { } memory && memory.TryWrite(address, bytes);
            }
            else
            {
                done = guestMemory() is { } memory && memory.TryRead(address, bytes);
            }

            int following = done && op == RemoteDmaFrame.Read ? length : 0;
            RemoteDmaFrame.WriteReply(header, done, following);
            channel.Write(header.AsSpan(0, RemoteDmaFrame.ReplyHeaderSize));
            channel.Write(bytes[..following]);
            channel.Flush();
        }
    }
}
