using SplitEmu.DeviceHost.Devices;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.CpuHost.Platform;

/// <summary>
/// Device models that exist only in the CPU process because they are part of how the CPU reaches the machine:
/// the interrupt controllers (interrupt delivery is the CPU's) and the PCI host bridge (it turns port accesses
/// into configuration cycles). Everything else comes from the device host's catalog.
/// </summary>
internal static class PlatformDevices
{
    /// <summary>
    /// Creates the CPU-process model for <paramref name="config"/>, or null when the type is an ordinary device. The
    /// types are described in the device catalog (<see cref="DeviceCatalog.I8259"/>, <see cref="DeviceCatalog.IoApic"/>, <see cref="DeviceCatalog.I440Fx"/>).
    /// </summary>
    public static IDevice? TryCreate(DeviceConfig config, IPlatformHost machine)
    {
        if (config.Type == DeviceCatalog.I8259.Name)
        {
            return machine.AttachInterruptController(new DualPic8259(machine.InterruptMayBePending));
        }

        if (config.Type == DeviceCatalog.IoApic.Name)
        {
            return machine.AttachIoApic();
        }

        if (config.Type == DeviceCatalog.I440Fx.Name)
        {
            return new I440fxHostBridge(
                config,
                machine.Bus.ReadPciConfig,
                machine.Bus.WritePciConfig,
                () => machine.RequestReset("the PCI reset control register, port 0xCF9"));
        }

        return null;
    }
}
