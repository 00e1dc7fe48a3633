namespace SplitEmu.Shared.Profiles;

/// <summary>Which process runs a device: the one rule launch and the CPU process both apply.</summary>
public static class DevicePlacement
{
    /// <summary>
    /// Name of the device process that serves <paramref name="device"/>: its id when isolated, its group name
    /// when grouped, null when it runs inline in the CPU process.
    /// </summary>
    public static string? ProcessKey(DeviceConfig device) => device.Placement switch
    {
        Placement.Inline => null,
        Placement.Group => "group-" + device.Group,
        _ => device.Id,
    };
}
