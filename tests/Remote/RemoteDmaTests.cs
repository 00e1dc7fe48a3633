using Nerdbank.Streams;
using SplitEmu.DeviceHost.Common;
using SplitEmu.Launch.Remote;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Remote;

/// <summary>
/// The DMA channel between a remote device's host and its bridge: transfers pass within the granted window and
/// nowhere else, a malformed request ends the bridge's side, and the host's side never queues more than a few callers.
/// </summary>
public sealed class RemoteDmaTests
{
    private const ulong WindowStart = 0x1000;

    [Fact]
    public async Task TransfersInsideTheWindow_Pass_AndOneOutsideIt_MovesNothing()
    {
        (Stream hostSide, Stream bridgeSide) = FullDuplexStream.CreatePair();
        WindowedRam ram = new();
        Task served = Task.Run(new RemoteDmaServer(bridgeSide, () => ram).Serve);
        RemoteDmaForwarder dma = new(hostSide);

        Assert.True(await dma.DmaWriteAsync(WindowStart + 0x10, [1, 2, 3, 4]));
        Assert.Equal([1, 2, 3, 4], await dma.DmaReadAsync(WindowStart + 0x10, 4));
        Assert.False(await dma.DmaWriteAsync(WindowStart - 2, [9, 9, 9, 9]));  // straddles the window's start
        Assert.Null(await dma.DmaReadAsync(WindowStart + WindowedRam.WindowBytes - 1, 2));
        Assert.All(ram.Bytes[..(int)WindowStart], b => Assert.Equal(0, b));
        byte[] large = Enumerable.Range(0, 0x1800).Select(i => (byte)(i * 7)).ToArray(); // more than one multiplexer frame
        Assert.True(await dma.DmaWriteAsync(WindowStart, large));
        Assert.Equal(large, await dma.DmaReadAsync(WindowStart, large.Length));

        hostSide.Dispose();
        await served.WaitAsync(TestDeadlines.Seconds(10)); // a clean end between requests
    }

    public static TheoryData<byte, int> MalformedRequests() => new()
    {
        { 9, 4 },                        // no such operation
        { RemoteDmaFrame.Read, -1 },
        { RemoteDmaFrame.Read, IRemoteDma.MaxBytes + 1 },
    };

    [Theory]
    [MemberData(nameof(MalformedRequests))]
    public async Task AMalformedRequest_EndsTheBridgesSide(byte op, int length)
    {
        (Stream hostSide, Stream bridgeSide) = FullDuplexStream.CreatePair();
        Task served = Task.Run(new RemoteDmaServer(bridgeSide, () => new WindowedRam()).Serve);
        byte[] header = new byte[RemoteDmaFrame.RequestHeaderSize];
        RemoteDmaFrame.WriteRequest(header, op, length, WindowStart);
        await hostSide.WriteAsync(header);
        await hostSide.FlushAsync();

        await Assert.ThrowsAsync<InvalidDataException>(() => served.WaitAsync(TestDeadlines.Seconds(10)));
    }

    [Fact]
    public async Task CallersBeyondTheLimit_AreRefusedAtOnce_AndABrokenChannelFailsTheRest()
    {
        (Stream hostSide, Stream silentBridge) = FullDuplexStream.CreatePair(); // never answers
        RemoteDmaForwarder dma = new(hostSide);
        Task<byte[]?>[] waiting = Enumerable.Range(0, RemoteDmaForwarder.MostCallers).Select(_ => dma.DmaReadAsync(WindowStart, 4)).ToArray();

        Task<bool> refused = dma.DmaWriteAsync(WindowStart, [1]);
        Assert.True(refused.IsCompleted);
        Assert.False(await refused);
        Assert.All(waiting, t => Assert.False(t.IsCompleted));

        silentBridge.Dispose(); // the bridge goes: the transfer on the wire and those queued behind it fail
        foreach (Task<byte[]?> call in waiting)
        {
            Assert.Null(await call.WaitAsync(TestDeadlines.Seconds(10)));
        }
    }

    /// <summary>64 KiB of guest RAM with DMA granted in [<see cref="WindowStart"/>, +<see cref="WindowBytes"/>).</summary>
    private sealed class WindowedRam : IGuestMemory
    {
        public const ulong WindowBytes = 0x2000;

        public byte[] Bytes { get; } = new byte[0x10000];

        public bool TryRead(ulong address, Span<byte> destination)
        {
            if (!Granted(address, destination.Length))
            {
                return false;
            }

            Bytes.AsSpan((int)address, destination.Length).CopyTo(destination);
            return true;
        }

        public bool TryWrite(ulong address, ReadOnlySpan<byte> source)
        {
            if (!Granted(address, source.Length))
            {
                return false;
            }

            source.CopyTo(Bytes.AsSpan((int)address));
            return true;
        }

        public void Dispose()
        {
        }

        private static bool Granted(ulong address, int length) => address >= WindowStart && address + (ulong)length <= WindowStart + WindowBytes;
    }
}
