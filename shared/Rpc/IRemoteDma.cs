using PolyType;
using StreamJsonRpc;

namespace SplitEmu.Shared.Rpc;

/// <summary>
/// Bus-master DMA as calls, for a device process that cannot map guest RAM (a device on another host,
/// docs/remote-devices.md): the device host calls its launcher side, which passes the call on to the one that holds
/// the mapping (the remote bridge beside the CPU process). That end checks every call against the granted windows,
/// as a mapping's bounds do; a refused call reads or writes nothing.
/// </summary>
[JsonRpcContract, GenerateShape(IncludeMethods = MethodShapeFlags.PublicInstance)]
public partial interface IRemoteDma
{
    /// <summary>Most bytes one call moves (a PRD entry of the IDE controller is at most 64 KiB).</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>Reads <paramref name="length"/> bytes of guest RAM at <paramref name="address"/>; null when refused.</summary>
    Task<byte[]?> DmaReadAsync(ulong address, int length, CancellationToken cancellationToken = default);

    /// <summary>Writes <paramref name="data"/> to guest RAM at <paramref name="address"/>; false (nothing written) when refused.</summary>
    Task<bool> DmaWriteAsync(ulong address, byte[] data, CancellationToken cancellationToken = default);
}
