using Nerdbank.Streams;

namespace SplitEmu.Launch.Remote;

/// <summary>
/// The channels a remote device process's one ssh connection is multiplexed into (Nerdbank.Streams'
/// <c>MultiplexingStream</c>), opened the same way on both ends. The other end is untrusted, so the multiplexer runs
/// protocol 3: each channel has a receiving window (a peer cannot make this side buffer more than that, where protocol
/// 1 buffers whatever arrives), and the three channels are seeded, so no offer is ever expected and every offer the
/// peer makes is rejected at once instead of being kept.
/// </summary>
internal sealed class RemoteChannels : IAsyncDisposable
{
    private const int ControlId = 0;
    private const int DataId = 1;
    private const int DmaId = 2;

    /// <summary>
    /// What a channel buffers from the peer at most: 12 of the multiplexer's 20 KiB frames, so that a whole frame is
    /// always sent; about a quarter of a largest DMA transfer in flight per round trip.
    /// </summary>
    private const int WindowBytes = 12 * 20 * 1024;

    private RemoteChannels(MultiplexingStream mux)
    {
        Multiplexer = mux;
        Control = mux.AcceptChannel(ControlId).AsStream();
        Data = mux.AcceptChannel(DataId).AsStream();
        Dma = mux.AcceptChannel(DmaId).AsStream();
    }

    /// <summary>The multiplexer; its completion is the connection's end.</summary>
    public MultiplexingStream Multiplexer { get; }

    /// <summary>The control plane: JSON-RPC, <c>IDeviceHostControl</c> one way and <c>ILaunchCallbacks</c> (device output) the other.</summary>
    public Stream Control { get; }

    /// <summary>The data plane: <see cref="RemoteFrame"/>s.</summary>
    public Stream Data { get; }

    /// <summary>Bus-master DMA: <see cref="RemoteDmaFrame"/>s, one transfer at a time.</summary>
    public Stream Dma { get; }

    /// <summary>Multiplexes <paramref name="transport"/> (ssh's standard input and output on either end).</summary>
    public static RemoteChannels Open(Stream transport)
    {
        MultiplexingStream.Options options = new()
        {
            ProtocolMajorVersion = 3,
            DefaultChannelReceivingWindowSize = WindowBytes,
            StartSuspended = true, // the offer handler is in place before the first byte is read
        };
        for (int i = 0; i <= DmaId; i++)
        {
            options.SeededChannels.Add(new MultiplexingStream.ChannelOptions());
        }

        MultiplexingStream mux = MultiplexingStream.Create(transport, options);
        mux.ChannelOffered += (_, offer) => RejectQuietly(mux, offer.QualifiedId.Id);
        mux.StartListening();
        return new RemoteChannels(mux);
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => Multiplexer.DisposeAsync();

    private static void RejectQuietly(MultiplexingStream mux, ulong id)
    {
        try
        {
            mux.RejectChannel(id);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
        {
            // Already gone, or the connection ended.
        }
    }
}
