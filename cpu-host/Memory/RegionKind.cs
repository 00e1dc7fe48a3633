namespace SplitEmu.CpuHost.Memory;

/// <summary>What a region is.</summary>
public enum RegionKind
{
    /// <summary>Guest RAM backed by host memory; reached directly through page pointers.</summary>
    Ram,

    /// <summary>Read-only host memory; writes are dropped.</summary>
    Rom,

    /// <summary>A device's MMIO or port range: every access is dispatched to its handler under a lease.</summary>
    Device,

    /// <summary>Holds subregions at offsets with priorities; has no contents of its own.</summary>
    Container,

    /// <summary>A window onto part of another region.</summary>
    Alias,
}
