using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Remote;

/// <summary>
/// The remote end's side of the DMA channel (<see cref="RemoteDmaFrame"/>): the device host's <see cref="IRemoteDma"/>
/// calls, passed to the bridge one at a time. A device's thread waits for its transfer, so a legitimate process has
/// at most one caller per bus master; past <see cref="MostCallers"/> at once a call is refused (the transfer fails) rather
/// than queued with its bytes. A channel that broke mid-transfer cannot be framed again: every later transfer fails.
/// </summary>
public sealed class RemoteDmaForwarder(Stream channel) : IRemoteDma
{
    /// <summary>Calls in progress or waiting at once, beyond which one is refused.</summary>
    public const int MostCallers = 4;

    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private readonly byte[] _header = new byte[RemoteDmaFrame.RequestHeaderSize];
    private int _callers;
    private volatile bool _broken;

    /// <inheritdoc/>
    public async Task<byte[]?> DmaReadAsync(ulong address, int length, CancellationToken cancellationToken = default)
    {
        if (length is < 0 or > IRemoteDma.MaxBytes || !await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        try
        {
            byte[] data = new byte[length];
            return await TransferAsync(RemoteDmaFrame.Read, address, data, cancellationToken).ConfigureAwait(false) ? data : null;
        }
        finally
        {
            Leave();
        }
    }

    /// <inheritdoc/>
    public async Task<bool> DmaWriteAsync(ulong address, byte[] data, CancellationToken cancellationToken = default)
    {
        if (data.Length > IRemoteDma.MaxBytes || !await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        try
        {
            return await TransferAsync(RemoteDmaFrame.Write, address, data, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Leave();
        }
    }

    private async Task<bool> EnterAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _callers) > MostCallers)
        {
            Interlocked.Decrement(ref _callers);
            return false;
        }

        try
        {
            await _oneAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            Interlocked.Decrement(ref _callers);
            return false;
        }
    }

    private void Leave()
    {
        _oneAtATime.Release();
        Interlocked.Decrement(ref _callers);
    }

    /// <summary>One transfer: the request (and a write's bytes) out, the reply (and a read's bytes) into <paramref name="bytes"/>.</summary>
    private async Task<bool> TransferAsync(byte op, ulong address, byte[] bytes, CancellationToken cancellationToken)
    {
        if (_broken)
        {
            return false;
        }

        try
        {
            RemoteDmaFrame.WriteRequest(_header, op, bytes.Length, address);
            await channel.WriteAsync(_header, cancellationToken).ConfigureAwait(false);
            if (op == RemoteDmaFrame.Write)
            {
                await channel.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            }

            await channel.FlushAsync(cancellationToken).ConfigureAwait(false);
            await channel.ReadExactlyAsync(_header.AsMemory(0, RemoteDmaFrame.ReplyHeaderSize), cancellationToken).ConfigureAwait(false);
            (bool done, int following) = RemoteDmaFrame.ParseReply(_header, op, bytes.Length);
            await channel.ReadExactlyAsync(bytes.AsMemory(0, following), cancellationToken).ConfigureAwait(false);
            return done;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ObjectDisposedException or OperationCanceledException)
        {
            _broken = true; // EndOfStreamException is an IOException
            return false;
        }
    }
}
