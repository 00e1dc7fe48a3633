namespace SplitEmu.DeviceHost.Sdk.Pci;

/// <summary>What a base address register decodes (PCI Local Bus spec 3.0, section 6.2.5.1).</summary>
public enum PciBarKind
{
    /// <summary>I/O space; bit 0 reads 1, bit 1 is reserved (0).</summary>
    Io = 1,

    /// <summary>32-bit memory space anywhere below 4 GiB; bits 0-3 read 0 (or bit 3 set when prefetchable).</summary>
    Memory32 = 2,
}
