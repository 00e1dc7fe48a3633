namespace SplitEmu.CpuHost.Memory;

/// <summary>
/// The dispatch target of a <see cref="RegionKind.Device"/> region: an inline device or the ring to a device
/// process. Handlers never throw for guest-visible failures: a failed read returns all ones of its size (a bus
/// error, like a PCI master abort) and a failed write is dropped.
/// </summary>
public interface IRegionHandler
{
    /// <summary>Reads <paramref name="size"/> bytes at <paramref name="offset"/> within the region.</summary>
    ulong Read(ulong offset, int size);

    /// <summary>Writes <paramref name="size"/> bytes at <paramref name="offset"/> within the region.</summary>
    void Write(ulong offset, int size, ulong value);

    /// <summary><see cref="Input"/>'s answer when the device is down: nothing was taken, try again later.</summary>
    const int InputNotNow = -1;

    /// <summary><see cref="Input"/>'s answer when the device takes no input at all (no receive side).</summary>
    const int InputRefused = -2;

    /// <summary>
    /// Console input for the region's device, carried like an access (under the region's lease, never beside
    /// another access to the device, journaled): returns how many leading bytes it took (0 when it has no room),
    /// <see cref="InputNotNow"/> or <see cref="InputRefused"/>. Regions of devices without a receive side refuse.
    /// </summary>
    int Input(ReadOnlySpan<byte> data) => InputRefused;
}
