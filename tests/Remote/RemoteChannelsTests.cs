using Nerdbank.Streams;
using SplitEmu.Launch.Remote;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Remote;

/// <summary>The multiplexed ssh connection of a remote device process: its seeded channels carry bytes, and a peer that offers a channel ends it.</summary>
public sealed class RemoteChannelsTests
{
    [Fact]
    public async Task BothEnds_AgreeOnTheSeededChannels_WithoutAnOffer()
    {
        (Stream bridgeSide, Stream hostSide) = FullDuplexStream.CreatePair();
        await using RemoteChannels bridge = RemoteChannels.Open(bridgeSide);
        await using RemoteChannels host = RemoteChannels.Open(hostSide);

        await bridge.Dma.WriteAsync(new byte[] { 1, 2, 3 });
        await bridge.Dma.FlushAsync();
        byte[] got = new byte[3];
        await host.Dma.ReadExactlyAsync(got).AsTask().WaitAsync(TestDeadlines.Seconds(10));

        Assert.Equal([1, 2, 3], got);
        Assert.Null(bridge.Breached);
    }

    [Fact]
    public async Task APeerThatOffersAChannel_EndsTheConnection_AndIsNamedForIt()
    {
        (Stream bridgeSide, Stream hostSide) = FullDuplexStream.CreatePair();
        await using RemoteChannels bridge = RemoteChannels.Open(bridgeSide);
        MultiplexingStream.Options hostile = new() { ProtocolMajorVersion = 3 };
        for (int i = 0; i < 3; i++)
        {
            hostile.SeededChannels.Add(new MultiplexingStream.ChannelOptions());
        }

        await using MultiplexingStream host = MultiplexingStream.Create(hostSide, hostile);
        _ = host.OfferChannelAsync("extra"); // never accepted: the bridge ends instead of keeping it

        await bridge.Multiplexer.Completion.WaitAsync(TestDeadlines.Seconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        Assert.True(bridge.Multiplexer.Completion.IsCompleted);
        Assert.Contains("offered a channel ('extra')", bridge.Breached, StringComparison.Ordinal);
    }
}
