namespace SplitEmu.CpuHost.Memory;

/// <summary>
/// Which device owns a region, as regions and the access context carry it: one object per plugged device, compared
/// by reference (never by its id's characters) on the dispatch path, and the key by which a device's own requests
/// reach its entry in the map without a lookup. The machine's device map hands them out at plug; <see cref="Id"/>
/// is for people (reports, errors).
/// </summary>
public class DeviceHandle(string id)
{
    /// <summary>The device's id in the profile.</summary>
    public string Id { get; } = id;

    /// <inheritdoc/>
    public override string ToString() => Id;
}
