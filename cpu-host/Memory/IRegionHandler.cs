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
}
