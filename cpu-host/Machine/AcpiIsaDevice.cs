using SplitEmu.DeviceHost.Devices.Input;
using SplitEmu.DeviceHost.Devices.Rtc;
using SplitEmu.DeviceHost.Devices.Serial;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// A legacy ISA device as the DSDT describes it to the guest (a <c>Device</c> under <c>\_SB.PCI0.ISA</c> with a
/// PNP <c>_HID</c> and the ports and interrupt lines of its <c>_CRS</c>). An ACPI kernel binds its PNP drivers
/// (8250 serial, i8042, rtc_cmos) to these, as on a PC, rather than probing fixed ports blindly.
/// </summary>
/// <param name="Name">The AML name (4 characters at most), as firmware names it: KBD, MOU, COM1, RTC.</param>
/// <param name="HardwareId">The PNP id of the device's class, e.g. <c>PNP0501</c> for a 16550.</param>
/// <param name="Ports">The I/O ranges it decodes.</param>
/// <param name="IrqLine">Its ISA interrupt line, or null if it has none.</param>
public sealed record AcpiIsaDevice(string Name, string HardwareId, IReadOnlyList<(ushort Port, byte Length)> Ports, int? IrqLine)
{
    /// <summary>The PNP id of a PC's real-time clock.</summary>
    public const string RtcHardwareId = "PNP0B00";

    /// <summary>
    /// The descriptions of the profile's devices that firmware describes: the 8042's keyboard and mouse ports, each
    /// 16550 and the RTC. Devices the profile does not have are not described, so the guest never binds a driver
    /// to ports nothing answers.
    /// </summary>
    public static IReadOnlyList<AcpiIsaDevice> Describe(IEnumerable<DeviceConfig> devices)
    {
        // In a PC's order, whatever the profile's: keyboard and mouse, serial ports, then the clock. The guest numbers
        // its PNP devices in this order (pnp 00:00, 00:01, ...), so a profile's layout does not renumber them.
        List<AcpiIsaDevice> keyboard = [], serial = [], clock = [];
        foreach (DeviceConfig device in devices)
        {
            switch (device.Type)
            {
                case I8042.TypeName:
                    ushort data = device.Io ?? I8042.DefaultDataPort;
                    keyboard.Add(new("KBD", "PNP0303", [(data, 1), ((ushort)(data + I8042.CommandPortOffset), 1)], I8042.KeyboardIrqLine));
                    keyboard.Add(new("MOU", "PNP0F13", [], I8042.AuxIrqLine));
                    break;
                case Uart16550.TypeName:
                    serial.Add(new($"COM{serial.Count + 1}", "PNP0501", [(device.Io ?? Uart16550.DefaultPort, (byte)Uart16550.PortCount)], device.Irq));
                    break;
                case CmosRtc.TypeName:
                    clock.Add(new("RTC", RtcHardwareId, [(device.Io ?? CmosRtc.DefaultPort, (byte)CmosRtc.PortCount)], device.Irq ?? CmosRtc.DefaultIrqLine));
                    break;
            }
        }

        return [.. keyboard, .. serial, .. clock];
    }
}
