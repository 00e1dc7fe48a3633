using SplitEmu.CpuHost.Dispatch;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// The platform set-up firmware does before a boot loader runs, for machines that boot a kernel directly and
/// so run no firmware. Linux configures most of the PCI bus itself (it assigns unassigned BARs), but it trusts
/// firmware for a few enables: its ata_piix driver ignores an IDE channel whose IDETIM "decode enable" bit is
/// clear, and only firmware sets that bit (SeaBIOS does on QEMU, whose direct boot runs SeaBIOS first).
/// Runs on the vCPU thread before the first instruction, through the bus, so it reaches devices in device
/// processes as ordinary, journaled configuration accesses.
/// </summary>
public static class DirectBootPlatformSetup
{
    /// <summary>Intel's PCI vendor id.</summary>
    private const ushort IntelVendor = 0x8086;

    /// <summary>PIIX3 and PIIX4 IDE functions: their IDETIM registers have the same layout.</summary>
    private static readonly ushort[] s_piixIdeDevices = [0x7010, 0x7111];

    /// <summary>IDETIM of the primary (0x40) and secondary (0x42) channel; bit 15 enables the channel's decode.</summary>
    private const ulong PrimaryIdeTiming = 0x40, SecondaryIdeTiming = 0x42;
    private const ulong IdeDecodeEnable = 0x8000;

    /// <summary>Does the set-up on every function of PCI bus 0; returns how many functions it configured.</summary>
    public static int Run(MachineBus bus)
    {
        int configured = 0;
        for (int device = 0; device < 32; device++)
        {
            for (int function = 0; function < 8; function++)
            {
                ulong config = PciConfigAddress.Of(0, device, function);
                ulong ids = bus.ReadPciConfig(config, 4);
                if ((ushort)ids == 0xFFFF)
                {
                    if (function == 0)
                    {
                        break; // no device in this slot
                    }

                    continue;
                }

                if ((ushort)ids == IntelVendor && s_piixIdeDevices.Contains((ushort)(ids >> 16)))
                {
                    EnableIdeDecode(bus, config);
                    configured++;
                }

                if (function == 0 && (bus.ReadPciConfig(config + 0x0E, 1) & 0x80) == 0)
                {
                    break; // single-function device
                }
            }
        }

        return configured;
    }

    private static void EnableIdeDecode(MachineBus bus, ulong config)
    {
        foreach (ulong timing in (ReadOnlySpan<ulong>)[PrimaryIdeTiming, SecondaryIdeTiming])
        {
            ulong value = bus.ReadPciConfig(config + timing, 2);
            bus.WritePciConfig(config + timing, 2, value | IdeDecodeEnable);
        }
    }
}
