using SplitEmu.Shared.Profiles;

namespace SplitEmu.Launch.Profiles;

// Sane maxima: a profile cannot ask for more devices or device processes than a machine can carry.
internal sealed partial class ProfileValidator
{
    private void CheckDeviceCounts(IReadOnlyList<DeviceConfig> devices)
    {
        if (devices.Count > ProfileDefaults.MaxDevices)
        {
            Report("$.devices", $"{devices.Count} devices; expected at most {ProfileDefaults.MaxDevices}");
        }

        int processes = devices.Select(DevicePlacement.ProcessKey).Where(key => key is not null).Distinct(StringComparer.Ordinal).Count();
        if (processes > ProfileDefaults.MaxDeviceProcesses)
        {
            Report("$.devices", $"{processes} device processes (isolated devices and groups); expected at most {ProfileDefaults.MaxDeviceProcesses} (put devices in groups, or inline)");
        }
    }
}
