using SplitEmu.Launch.Supervision;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Launch;

/// <summary>
/// The console's bounded queue: a reader that stops reading makes writers wait (the back-pressure that reaches the
/// UART), not lose bytes; the bytes arrive in order once it reads again; a stopping machine stops waiting; and a
/// reader that went away costs counted bytes, never a hang.
/// </summary>
public sealed class ConsoleBufferTests
{
    [Fact]
    public async Task AFullQueue_MakesTheWriterWait_UntilTheReaderReadsAgain_AndLosesNothing()
    {
        using GatedStream console = new();
        using ConsoleBuffer buffer = new(console, capacity: 8);
        try
        {
            await buffer.WriteAsync("12345678"u8.ToArray());
            Assert.True(console.WriteStarted.Wait(TestDeadlines.Seconds(10)), "the writer thread never wrote");

            Task waiting = buffer.WriteAsync("9abc"u8.ToArray()).AsTask();
            await Task.Delay(50);
            Assert.False(waiting.IsCompleted, "a write went past a full queue while the reader was stopped");

            console.Open.Set();
            await waiting.WaitAsync(TestDeadlines.Seconds(10));
            Assert.True(buffer.Drain(TestDeadlines.Seconds(10)));
            Assert.Equal("123456789abc", System.Text.Encoding.ASCII.GetString(console.Written.ToArray()));
            Assert.Equal(0, buffer.LostBytes);
        }
        finally
        {
            console.Open.Set();
        }
    }

    [Fact]
    public async Task StopHoldingBack_ReleasesAWaitingWriter_WhileTheReaderStillDoesNotRead()
    {
        using GatedStream console = new();
        using ConsoleBuffer buffer = new(console, capacity: 4);
        try
        {
            await buffer.WriteAsync("full"u8.ToArray());
            Task waiting = buffer.WriteAsync("last"u8.ToArray()).AsTask();

            buffer.StopHoldingBack();

            await waiting.WaitAsync(TestDeadlines.Seconds(10));
            Assert.False(buffer.Drain(TimeSpan.FromMilliseconds(50)), "drained although nothing was read");
            Assert.Equal(8, buffer.QueuedBytes);
        }
        finally
        {
            console.Open.Set();
        }
    }

    [Fact]
    public async Task AReaderThatWentAway_CostsCountedBytes_NotAHang()
    {
        using ConsoleBuffer buffer = new(new BrokenStream(), capacity: 4);

        await buffer.WriteAsync("lost"u8.ToArray());
        Assert.True(buffer.Drain(TestDeadlines.Seconds(10)));
        await buffer.WriteAsync("more"u8.ToArray()).AsTask().WaitAsync(TestDeadlines.Seconds(10));

        Assert.Equal(8, buffer.LostBytes);
    }

    /// <summary>A console whose reader has stopped until <see cref="Open"/> is set.</summary>
    private sealed class GatedStream : MemoryStream
    {
        public ManualResetEventSlim Open { get; } = new();

        public ManualResetEventSlim WriteStarted { get; } = new();

        public MemoryStream Written { get; } = new();

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            WriteStarted.Set();
            Open.Wait();
            lock (Written)
            {
                Written.Write(buffer);
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    }

    /// <summary>A console whose reader closed the pipe.</summary>
    private sealed class BrokenStream : MemoryStream
    {
        public override void Write(ReadOnlySpan<byte> buffer) => throw new IOException("Broken pipe");

        public override void Write(byte[] buffer, int offset, int count) => throw new IOException("Broken pipe");
    }
}
