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
    /// <summary>Profile type name of the 8259A pair.</summary>
    private const string InterruptControllerType = "i8259";

    /// <summary>Creates the CPU-process model for <paramref name="config"/>, or null when the type is an ordinary device.</summary>
    public static IDevice? TryCreate(DeviceConfig config, IPlatformHost machine) => config.Type switch
    {
        InterruptControllerType => machine.AttachInterruptController(new DualPic8259(machine.InterruptMayBePending)),
        I440fxHostBridge.TypeName => new I440fxHostBridge(
            config,
            machine.Bus.ReadPciConfig,
            machine.Bus.WritePciConfig,
            () => machine.RequestReset("the PCI reset control register, port 0xCF9")),
        _ => null,
    };
}
