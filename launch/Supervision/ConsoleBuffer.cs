namespace SplitEmu.Launch.Supervision;

/// <summary>
/// A bounded queue in front of the console stream, written by a thread of its own, so a reader that stops
/// reading (a paused pager, a full pipe, a stopped terminal) blocks that thread only. While the queue is full,
/// <see cref="WriteAsync"/> waits: the launcher then acknowledges the console device's output late, its device
/// process backs up, and the UART holds the guest back. Nothing here is a device fault, and nothing blocks the
/// launcher's signals or control calls. When the machine stops, <see cref="StopHoldingBack"/> lets the last bytes
/// in at once (device processes bound what they can still send), and <see cref="Drain"/> gives the reader a
/// bounded time to take them.
/// </summary>
public sealed class ConsoleBuffer : IDisposable
{
    /// <summary>Bytes queued (or being written) before writers wait.</summary>
    public const int DefaultCapacity = 64 * 1024;

    private readonly Stream _console;
    private readonly int _capacity;
    private readonly Lock _gate = new();
    private readonly Queue<byte[]> _chunks = new();
    private readonly SemaphoreSlim _queuedChunks = new(0);
    private readonly Thread _writer;
    private TaskCompletionSource? _room;
    private TaskCompletionSource? _empty;
    private int _queuedBytes;
    private bool _holdingBack = true;
    private bool _broken;

    public ConsoleBuffer(Stream console, int capacity = DefaultCapacity)
    {
        _console = console;
        _capacity = capacity;
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "console writer" }; // tests find it by name
        _writer.Start();
    }

    /// <summary>Bytes not written because the console's stream failed (its reader went away).</summary>
    public long LostBytes { get; private set; }

    /// <summary>Queues <paramref name="data"/>; waits while the queue is full (and the machine still runs).</summary>
    public async ValueTask WriteAsync(byte[] data)
    {
        while (true)
        {
            Task room;
            lock (_gate)
            {
                if (_broken)
                {
                    LostBytes += data.Length;
                    return;
                }

                if (!_holdingBack || _queuedBytes == 0 || _queuedBytes + data.Length <= _capacity)
                {
                    _chunks.Enqueue(data);
                    _queuedBytes += data.Length;
                    _queuedChunks.Release();
                    return;
                }

                _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                room = _room.Task;
            }

            await room.ConfigureAwait(false);
        }
    }

    /// <summary>From now on writers never wait: the machine is stopping, and its last output must not be held.</summary>
    public void StopHoldingBack()
    {
        lock (_gate)
        {
            _holdingBack = false;
            _room?.TrySetResult();
            _room = null;
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for every queued byte to be written; false if the reader did not take them.</summary>
    public bool Drain(TimeSpan timeout)
    {
        Task empty;
        lock (_gate)
        {
            if (_queuedBytes == 0 || _broken)
            {
                return true;
            }

            _empty ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            empty = _empty.Task;
        }

        return empty.Wait(timeout);
    }

    /// <summary>Bytes queued and not yet written.</summary>
    public int QueuedBytes
    {
        get
        {
            lock (_gate)
            {
                return _queuedBytes;
            }
        }
    }

    public void Dispose()
    {
        StopHoldingBack();
        // The writer thread is a background thread: if it is stuck in a write nobody reads, it ends with the process.
    }

    private void WriteLoop()
    {
        while (true)
        {
            _queuedChunks.Wait();
            byte[] chunk;
            lock (_gate)
            {
                chunk = _chunks.Dequeue();
            }

            bool failed = false;
            try
            {
                _console.Write(chunk);
                _console.Flush();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or NotSupportedException)
            {
                failed = true; // the reader went away (EPIPE): later bytes have nowhere to go
            }

            lock (_gate)
            {
                _queuedBytes -= chunk.Length;
                if (failed)
                {
                    _broken = true;
                    LostBytes += chunk.Length;
                }

                if (_broken)
                {
                    while (_chunks.TryDequeue(out byte[]? dropped))
                    {
                        _queuedBytes -= dropped.Length;
                        LostBytes += dropped.Length;
                        _queuedChunks.Wait(0);
                    }
                }

                _room?.TrySetResult();
                _room = null;
                if (_queuedBytes == 0)
                {
                    _empty?.TrySetResult();
                    _empty = null;
                }
            }
        }
    }
}
