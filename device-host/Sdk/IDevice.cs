using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Sdk;

/// <summary>
/// A device model. The same code runs inline in the CPU process or isolated in a device process: the host
/// routes accesses to it by region and offset, and the device reaches the machine only through its
/// <see cref="IDeviceContext"/>. Accesses arrive one at a time (never concurrently).
/// </summary>
public interface IDevice
{
    /// <summary>The regions the device occupies (fixed after construction).</summary>
    IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <summary>Reads <paramref name="size"/> bytes (1, 2, 4 or 8) at <paramref name="offset"/> of region <paramref name="region"/>.</summary>
    ulong Read(int region, ulong offset, int size);

    /// <summary>Writes <paramref name="size"/> bytes of <paramref name="value"/>.</summary>
    void Write(int region, ulong offset, int size, ulong value);

    /// <summary>Back to the power-on state.</summary>
    void Reset();
}
