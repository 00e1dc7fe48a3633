using SplitEmu.DeviceHost.Common;
using SplitEmu.Shared.Rpc;
using StreamJsonRpc;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// Guest RAM for a device process that cannot map it (a device on another host): each transfer is an
/// <see cref="IRemoteDma"/> call on the control connection, made from the device's own thread and waited for, as a
/// bus master's transfer holds the bus. The far end checks the windows; a refused or broken call moves nothing.
/// </summary>
internal sealed class RemoteDmaClient(JsonRpc rpc) : IGuestMemory
{
    private readonly IRemoteDma _dma = rpc.Attach<IRemoteDma>();

    /// <inheritdoc/>
    public bool TryRead(ulong address, Span<byte> destination)
    {
        if (destination.Length > IRemoteDma.MaxBytes)
        {
            return false;
        }

        int length = destination.Length;
        byte[]? data = Call(() => _dma.DmaReadAsync(address, length));
        if (data is null || data.Length != destination.Length)
        {
            return false;
        }

        data.CopyTo(destination);
        return true;
    }

    /// <inheritdoc/>
    public bool TryWrite(ulong address, ReadOnlySpan<byte> source)
    {
        if (source.Length > IRemoteDma.MaxBytes)
        {
            return false;
        }

        byte[] data = source.ToArray();
        return Call(() => _dma.DmaWriteAsync(address, data));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
    }

    private static T? Call<T>(Func<Task<T>> call)
    {
        try
        {
            return call().GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is RemoteInvocationException or ConnectionLostException or ObjectDisposedException)
        {
            return default; // the far end is gone or refused: the transfer fails like one outside the windows
        }
    }
}
