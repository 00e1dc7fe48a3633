using SplitEmu.CpuHost.Dispatch;
using SplitEmu.CpuHost.Memory;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// The machine's console input on its way to the console device (docs/console.md). The control plane fills a
/// bounded queue (the launcher's standard input); the vCPU thread drains it between instructions, giving the
/// device only what it says it has room for (QEMU's chardev can_receive), through one of the device's regions
/// under that region's lease, as an access is given. When the device is full, down, unplugged or hidden, the
/// bytes wait here; a caller whose bytes do not fit the queue waits for room.
/// </summary>
public sealed class ConsoleInput
{
    /// <summary>Instructions the guest runs before the vCPU offers input again after the device had no room.</summary>
    public const long FirstRetryInstructions = 256;

    private readonly string _deviceId;
    private readonly AddressSpace[] _spaces;
    private readonly Action _wakeVcpu;
    private readonly Lock _gate = new();

    /// <summary>Queued bytes: <see cref="_count"/> of them from <see cref="_head"/>, wrapping (under <see cref="_gate"/>).</summary>
    private readonly byte[] _queue = new byte[ConsoleInputLimits.QueueBytes];
    private int _head;
    private int _count;

    /// <summary>Completed (and cleared) when the vCPU frees room; callers waiting for room await it (under <see cref="_gate"/>).</summary>
    private TaskCompletionSource? _roomFreed;

    /// <summary>The device takes no input (no receive side): input is dropped, callers get false.</summary>
    private bool _refused;

    /// <summary>The machine ended: callers get an error.</summary>
    private bool _closed;

    /// <summary>Instructions until the next offer while the device is full; doubles up to <see cref="_longestRetry"/>.</summary>
    private long _retryInstructions = FirstRetryInstructions;
    private readonly long _longestRetry;

    /// <summary>Feeds <paramref name="deviceId"/> through its regions in <paramref name="spaces"/>; <paramref name="wakeVcpu"/> cuts a run slice short.</summary>
    public ConsoleInput(string deviceId, AddressSpace[] spaces, Action wakeVcpu, long longestRetry)
    {
        _deviceId = deviceId;
        _spaces = spaces;
        _wakeVcpu = wakeVcpu;
        _longestRetry = longestRetry;
    }

    /// <summary>Whether bytes wait for the device (read by the vCPU between run slices).</summary>
    public bool HasPending => Volatile.Read(ref _count) > 0;

    /// <summary>How many instructions the guest may run before the vCPU should offer the pending bytes again.</summary>
    public long RetryInstructions => _retryInstructions;

    /// <summary>
    /// Queues <paramref name="data"/> whole, waiting while the queue has no room for it; false when the device
    /// takes no input. Any thread.
    /// </summary>
    /// <exception cref="ArgumentException">More than <see cref="ConsoleInputLimits.MaxChunkBytes"/> bytes.</exception>
    /// <exception cref="InvalidOperationException">The machine has ended.</exception>
    public async Task<bool> EnqueueAsync(byte[] data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(data.Length, ConsoleInputLimits.MaxChunkBytes, nameof(data));
        while (true)
        {
            Task room;
            lock (_gate)
            {
                if (_closed)
                {
                    throw new InvalidOperationException("the machine has ended");
                }

                if (_refused)
                {
                    return false;
                }

                if (_queue.Length - _count >= data.Length)
                {
                    for (int i = 0; i < data.Length; i++)
                    {
                        _queue[(_head + _count + i) % _queue.Length] = data[i];
                    }

                    Volatile.Write(ref _count, _count + data.Length);
                    _retryInstructions = FirstRetryInstructions; // new bytes: offer them soon
                    break;
                }

                // Continuations run off the vCPU thread, which completes this.
                room = (_roomFreed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            await room.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        _wakeVcpu();
        return true;
    }

    /// <summary>
    /// On the vCPU thread, between instructions: offers the pending bytes to the device, at most
    /// <see cref="InputPayload.MaxBytes"/> at a time, until it has no room, is down, or the queue is empty.
    /// </summary>
    public void Pump()
    {
        if (!HasPending || FindRegion() is not { } region)
        {
            Backoff(); // nothing, or the device is out of the map (unplugged, hidden): the bytes wait
            return;
        }

        if (!region.Lease.TryAcquire())
        {
            Backoff(); // closing since the view was published: it is leaving the map
            return;
        }

        AccessContext.Enter(region); // map changes the device asks for now are applied after the release, as for an access
        try
        {
            Span<byte> chunk = stackalloc byte[InputPayload.MaxBytes];
            while (Peek(chunk) is int offered and > 0)
            {
                int taken = region.Handler!.Input(chunk[..offered]);
                if (taken == IRegionHandler.InputRefused)
                {
                    Refuse();
                    return;
                }

                if (taken > 0)
                {
                    Consume(Math.Min(taken, offered));
                    _retryInstructions = FirstRetryInstructions;
                }

                if (taken < offered)
                {
                    Backoff(); // full (or down): the guest must read first
                    return;
                }
            }
        }
        finally
        {
            region.Lease.Release();
            AccessContext.Exit();
        }
    }

    /// <summary>The machine ended: callers waiting for room, and later ones, get an error.</summary>
    public void Close()
    {
        TaskCompletionSource? waiting;
        lock (_gate)
        {
            _closed = true;
            waiting = _roomFreed;
            _roomFreed = null;
        }

        waiting?.TrySetResult();
    }

    /// <summary>The first region of the console device in the current views (lock-free, as dispatch looks up), or null.</summary>
    private MemoryRegion? FindRegion()
    {
        foreach (AddressSpace space in _spaces)
        {
            foreach (FlatRange range in space.View.Ranges)
            {
                if (range.Region.Kind == RegionKind.Device && range.Region.Owner?.Id == _deviceId && range.Region.Handler is not null)
                {
                    return range.Region;
                }
            }
        }

        return null;
    }

    private int Peek(Span<byte> chunk)
    {
        lock (_gate)
        {
            int n = Math.Min(chunk.Length, _count);
            for (int i = 0; i < n; i++)
            {
                chunk[i] = _queue[(_head + i) % _queue.Length];
            }

            return n;
        }
    }

    private void Consume(int taken)
    {
        TaskCompletionSource? waiting;
        lock (_gate)
        {
            _head = (_head + taken) % _queue.Length;
            Volatile.Write(ref _count, _count - taken);
            waiting = _roomFreed;
            _roomFreed = null;
        }

        waiting?.TrySetResult();
    }

    private void Backoff() => _retryInstructions = Math.Min(_retryInstructions * 2, _longestRetry);

    /// <summary>The device has no receive side: say so once, drop what waits, and refuse the rest.</summary>
    private void Refuse()
    {
        TaskCompletionSource? waiting;
        lock (_gate)
        {
            if (_refused)
            {
                return;
            }

            _refused = true;
            _count = 0;
            waiting = _roomFreed;
            _roomFreed = null;
        }

        waiting?.TrySetResult();
        Console.Error.WriteLine($"console input: device '{_deviceId}' takes no input; standard input is ignored");
    }
}
