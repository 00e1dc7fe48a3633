using SplitEmu.DeviceHost.Devices.Debug;
using SplitEmu.DeviceHost.Devices.Serial;
using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.DeviceHost.Devices;

/// <summary>The device models this build knows, by profile type name.</summary>
public static class DeviceCatalog
{
    private static readonly Dictionary<string, Func<DeviceConfig, IDeviceContext, IDevice>> s_factories = new(StringComparer.Ordinal)
    {
        [Uart16550.TypeName] = (config, context) => new Uart16550(config, context),
        [DebugExit.TypeName] = (config, context) => new DebugExit(config, context),
        [TestDevice.TypeName] = (config, context) => new TestDevice(config, context),
        [Devices.Bench.BenchRegister.TypeName] = (config, context) => new Devices.Bench.BenchRegister(config, context),
        [Devices.Timer.Pit8254.TypeName] = (config, context) => new Devices.Timer.Pit8254(config, context),
        [Devices.Rtc.CmosRtc.TypeName] = (config, context) => new Devices.Rtc.CmosRtc(config, context),
        [DebugConsole.TypeName] = (config, context) => new DebugConsole(config, context),
        [Devices.Firmware.FwCfg.TypeName] = (config, context) => new Devices.Firmware.FwCfg(config, context),
        [Devices.Pci.Piix3IsaBridge.TypeName] = (config, context) => new Devices.Pci.Piix3IsaBridge(config, context),
        [Devices.Storage.Piix3Ide.TypeName] = (config, context) => new Devices.Storage.Piix3Ide(config, context),
        [Devices.Input.I8042.TypeName] = (config, context) => new Devices.Input.I8042(config, context),
        [Devices.Power.AcpiPowerManagement.TypeName] = (config, context) => new Devices.Power.AcpiPowerManagement(config, context),
    };

    /// <summary>Type names, for validation messages.</summary>
    public static IReadOnlyCollection<string> TypeNames => s_factories.Keys;

    /// <summary>Creates a device of <see cref="DeviceConfig.Type"/>.</summary>
    /// <exception cref="ArgumentException">The type is unknown (profiles are validated before this, so that is a bug).</exception>
    public static IDevice Create(DeviceConfig config, IDeviceContext context)
    {
        if (!s_factories.TryGetValue(config.Type, out Func<DeviceConfig, IDeviceContext, IDevice>? factory))
        {
            throw new ArgumentException($"unknown device type '{config.Type}' for device '{config.Id}'", nameof(config));
        }

        return factory(config, context);
    }
}
