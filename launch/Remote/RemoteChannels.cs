using Nerdbank.Streams;

namespace SplitEmu.Launch.Remote;

/// <summary>
/// The channels a remote device process's one ssh connection is multiplexed into (Nerdbank.Streams'
/// <c>MultiplexingStream</c>), opened the same way on both ends. The other end is untrusted, so the multiplexer runs
/// protocol 3: each channel has a receiving window (a peer cannot make this side buffer more than that, where protocol
/// 1 buffers whatever arrives), and the three channels are seeded, so no channel offer is ever expected. An offer
/// is a breach of the protocol: it ends the connection (the multiplexer keeps an offered channel until the peer
/// withdraws it, so rejecting offers one by one would let a peer grow this side's memory). What the multiplexer
/// itself does not bound is the size of one of its frames, which it reads whole before it checks a window; the
/// silence limit and ssh's throughput bound that (docs/remote-devices.md, "Limits").
/// </summary>
public sealed class RemoteChannels : IAsyncDisposable
{
    private const int ControlId = 0;
    private const int DataId = 1;
    private const int DmaId = 2;

    /// <summary>
    /// What a channel buffers from the peer at most: 12 of the multiplexer's 20 KiB frames, so that a whole frame is
    /// always sent; about a quarter of a largest DMA transfer in flight per round trip.
    /// </summary>
    private const int WindowBytes = 12 * 20 * 1024;

    private RemoteChannels(MultiplexingStream mux) => Multiplexer = mux;

    /// <summary>The multiplexer; its completion is the connection's end.</summary>
    public MultiplexingStream Multiplexer { get; }

    /// <summary>The control plane: JSON-RPC, <c>IDeviceHostControl</c> one way and <c>ILaunchCallbacks</c> (device output) the other.</summary>
    public Stream Control { get; private set; } = Stream.Null;

    /// <summary>The data plane: <see cref="RemoteFrame"/>s.</summary>
    public Stream Data { get; private set; } = Stream.Null;

    /// <summary>Bus-master DMA: <see cref="RemoteDmaFrame"/>s, one transfer at a time.</summary>
    public Stream Dma { get; private set; } = Stream.Null;

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
        RemoteChannels channels = new(mux);
        mux.ChannelOffered += (_, offer) => channels.Breach($"the peer offered a channel ('{Printable(offer.Name)}'), which this protocol never does");
        mux.StartListening();
        channels.Control = mux.AcceptChannel(ControlId).AsStream(); // seeded: accepted without a round trip, once listening
        channels.Data = mux.AcceptChannel(DataId).AsStream();
        channels.Dma = mux.AcceptChannel(DmaId).AsStream();
        return channels;
    }

    /// <summary>Why the connection was ended for a breach of the protocol, or null.</summary>
    public string? Breached { get; private set; }

    /// <summary>Ends the connection for a breach of the protocol by the peer, remembering why (the first reason stands).</summary>
    public void Breach(string why)
    {
        Breached ??= why;
        _ = Multiplexer.DisposeAsync().AsTask().ContinueWith(t => _ = t.Exception, TaskScheduler.Default); // its completion ends either end
    }

    private static string Printable(string? name) =>
        string.Concat((name is null ? "" : name.Length > 32 ? name[..32] : name).Select(c => char.IsControl(c) ? '?' : c));

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => Multiplexer.DisposeAsync();
}
