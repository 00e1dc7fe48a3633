using SplitEmu.Launch.Remote;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Remote;

/// <summary>The remote data plane's frames: what goes in comes out, and what the other side may not send is refused.</summary>
public sealed class RemoteFrameTests
{
    [Fact]
    public void ARequestWithStateBytes_ComesOutAsItWentIn()
    {
        using MemoryStream stream = new();
        RingMessage sent = new() { Kind = MessageKind.RestoreState, Device = 2, Value = 3, Tag = 77 };
        byte[] frame = RemoteFrame.NewBuffer();
        RemoteFrame.Write(stream, frame, RemoteFrameType.Request, 123_456, sent, [1, 2, 3]);
        RemoteFrame.Write(stream, frame, RemoteFrameType.Heartbeat, 999, default);
        stream.Position = 0;
        byte[] buffer = RemoteFrame.NewBuffer();

        Assert.True(RemoteFrame.TryRead(stream, buffer, out RemoteFrameType type, out long time, out RingMessage message, out ReadOnlySpan<byte> state));
        Assert.Equal(RemoteFrameType.Request, type);
        Assert.Equal(123_456, time);
        Assert.Equal(sent.Kind, message.Kind);
        Assert.Equal(sent.Device, message.Device);
        Assert.Equal(sent.Tag, message.Tag);
        Assert.Equal([1, 2, 3], state.ToArray());

        Assert.True(RemoteFrame.TryRead(stream, buffer, out type, out time, out _, out state));
        Assert.Equal(RemoteFrameType.Heartbeat, type);
        Assert.Equal(999, time);
        Assert.True(state.IsEmpty);

        Assert.False(RemoteFrame.TryRead(stream, buffer, out _, out _, out _, out _)); // a clean end between frames
    }

    public static TheoryData<byte[]> MalformedFrames() => new()
    {
        Header(type: 9, payload: RemoteFrame.MessagePayload),                  // no such type
        Header(type: (byte)RemoteFrameType.Event, payload: RemoteFrame.MessagePayload + 1), // an event carries no state
        Header(type: (byte)RemoteFrameType.Reply, payload: RemoteFrame.MaxPayload + 1),     // more than a state area
        Header(type: (byte)RemoteFrameType.Reply, payload: 4),                  // shorter than a message
        Header(type: (byte)RemoteFrameType.Heartbeat, payload: 8, reserved: 1), // reserved bytes set
        Header(type: (byte)RemoteFrameType.Heartbeat, payload: 8).Concat(new byte[] { 1, 2 }).ToArray(), // the stream ends inside the frame
        new byte[] { (byte)RemoteFrameType.Heartbeat, 0, 0 },                   // and inside the header
    };

    [Theory]
    [MemberData(nameof(MalformedFrames))]
    public void AMalformedFrame_IsRefused(byte[] frame)
    {
        using MemoryStream stream = new(frame);

        Assert.Throws<InvalidDataException>(() => RemoteFrame.TryRead(stream, RemoteFrame.NewBuffer(), out _, out _, out _, out _));
    }

    private static byte[] Header(byte type, int payload, byte reserved = 0)
    {
        byte[] header = new byte[RemoteFrame.HeaderSize];
        header[0] = type;
        header[1] = reserved;
        BitConverter.TryWriteBytes(header.AsSpan(4), payload);
        return header;
    }
}
