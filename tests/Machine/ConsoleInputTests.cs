using SplitEmu.CpuHost.Machine;
using SplitEmu.CpuHost.Memory;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Tests.Machine;

/// <summary>The CPU process's console input queue: flow control by the device's room, waits, refusal.</summary>
public sealed class ConsoleInputTests
{
    private const ulong UartPort = 0x3F8;

    /// <summary>A run slice's instruction count: the longest retry interval.</summary>
    private const long LongestRetry = 1_000_000;

    private readonly AddressSpace _io = new("io", 0x10000);
    private readonly ReceiverHandler _receiver = new();
    private readonly MemoryRegion _region;
    private readonly ConsoleInput _input;
    private int _wakes;

    public ConsoleInputTests()
    {
        _region = MemoryRegion.Device("com1.regs", 8, _receiver, new DeviceHandle("com1"));
        using (_io.BeginTransaction())
        {
            _io.AddSubregion(_io.Root, UartPort, _region);
        }

        _input = new ConsoleInput("com1", [_io], () => _wakes++, LongestRetry);
    }

    [Fact]
    public async Task Pump_GivesTheDeviceOnlyWhatItHasRoomFor_AndTheRestLater()
    {
        byte[] paste = Enumerable.Range(0, 40).Select(i => (byte)i).ToArray();
        await _input.EnqueueAsync(paste, CancellationToken.None);
        _receiver.Room = 16;

        _input.Pump();
        Assert.Equal(paste[..16], _receiver.Taken);
        _receiver.Room = 100;
        _input.Pump();

        Assert.Equal(paste, _receiver.Taken);
        Assert.False(_input.HasPending);
        Assert.Equal(1, _wakes);
    }

    [Fact]
    public async Task Pump_WhileTheDeviceIsFull_BacksOffUpToTheLongestRetry()
    {
        await _input.EnqueueAsync("x"u8.ToArray(), CancellationToken.None);
        _receiver.Room = 0;

        for (int i = 0; i < 30; i++)
        {
            _input.Pump();
        }

        Assert.True(_input.HasPending);
        Assert.Equal(LongestRetry, _input.RetryInstructions);
    }

    [Fact]
    public async Task Pump_WhileTheDeviceIsOutOfTheMap_KeepsTheBytes()
    {
        await _input.EnqueueAsync("abc"u8.ToArray(), CancellationToken.None);
        using (_io.BeginTransaction())
        {
            _io.RemoveSubregion(_region);
        }

        _input.Pump();

        Assert.Empty(_receiver.Taken);
        Assert.True(_input.HasPending);
    }

    [Fact]
    public async Task EnqueueAsync_WhenTheQueueIsFull_WaitsUntilTheDeviceTakesSome()
    {
        _receiver.Room = 0;
        byte[] chunk = new byte[ConsoleInputLimits.MaxChunkBytes];
        for (int i = 0; i < ConsoleInputLimits.QueueBytes / chunk.Length; i++)
        {
            await _input.EnqueueAsync(chunk, CancellationToken.None);
        }

        Task<bool> waiting = _input.EnqueueAsync([1], CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        _receiver.Room = 8;
        _input.Pump();

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Pump_ToADeviceWithoutAReceiveSide_DropsTheInput_AndLaterCallsSayNo()
    {
        AddressSpace io = new("io", 0x10000);
        using (io.BeginTransaction())
        {
            io.AddSubregion(io.Root, 0x402, MemoryRegion.Device("debugcon", 1, new OutputOnlyHandler(), new DeviceHandle("debugcon")));
        }

        ConsoleInput input = new("debugcon", [io], () => { }, LongestRetry);
        Assert.True(await input.EnqueueAsync("a"u8.ToArray(), CancellationToken.None));

        input.Pump();

        Assert.False(input.HasPending);
        Assert.False(await input.EnqueueAsync("b"u8.ToArray(), CancellationToken.None));
    }

    [Fact]
    public async Task EnqueueAsync_AfterTheMachineEnded_Throws()
    {
        _input.Close();

        await Assert.ThrowsAsync<InvalidOperationException>(() => _input.EnqueueAsync([1], CancellationToken.None));
    }

    /// <summary>A device that takes up to <see cref="Room"/> bytes in all.</summary>
    private sealed class ReceiverHandler : IRegionHandler
    {
        public int Room { get; set; }

        public List<byte> Taken { get; } = [];

        public ulong Read(ulong offset, int size) => 0;

        public void Write(ulong offset, int size, ulong value)
        {
        }

        public int Input(ReadOnlySpan<byte> data)
        {
            int taken = Math.Min(Room, data.Length);
            Taken.AddRange(data[..taken].ToArray());
            Room -= taken;
            return taken;
        }
    }

    private sealed class OutputOnlyHandler : IRegionHandler
    {
        public ulong Read(ulong offset, int size) => 0;

        public void Write(ulong offset, int size, ulong value)
        {
        }
    }
}
