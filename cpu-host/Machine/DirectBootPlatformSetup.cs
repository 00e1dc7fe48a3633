using SplitEmu.CpuHost.Dispatch;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// The platform set-up firmware does before a boot loader runs, for machines that boot a kernel directly and
/// so run no firmware. It does what SeaBIOS does on QEMU (whose direct boot runs SeaBIOS first), so a kernel
/// finds the PCI bus as it would there: every base address register assigned (I/O upward from 0xC000, memory
/// downward from the I/O APIC's address, largest first), I/O and memory decode on in every function's command
/// register, and the PIIX IDE channels' IDETIM "decode enable" bit set (Linux's ata_piix ignores a channel
/// whose bit is clear, and only firmware sets it). An 8042 keyboard controller gets the command byte SeaBIOS
/// leaves (scan-code translation on, keyboard interrupt on, mouse port off), so the kernel's keyboard driver
/// finds the translated set 2 a PC's firmware hands over. Runs on the vCPU thread before the first instruction,
/// through the bus, so it reaches devices in device processes as ordinary, journaled configuration accesses.
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

    /// <summary>Where firmware starts the I/O BARs: above the ISA range and the PCI configuration ports.</summary>
    public const uint IoBarStart = 0xC000;

    /// <summary>Where firmware ends the memory BARs (exclusive): the I/O APIC, local APIC and BIOS live above.</summary>
    public const uint MemoryBarEnd = 0xFEC0_0000;

    private const ulong Command = 0x04, HeaderType = 0x0E, FirstBar = 0x10;
    private const ulong IoSpaceEnable = 0x1, MemorySpaceEnable = 0x2;

    /// <summary>Does the set-up on every function of PCI bus 0; returns how many IDE functions it enabled.</summary>
    public static int Run(MachineBus bus)
    {
        List<BarRequest> bars = [];
        List<ulong> functions = [];
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

                // Decode off while the BARs are sized and moved, as a PCI scan does, so no BAR decodes at a passing address.
                bus.WritePciConfig(config + Command, 2, bus.ReadPciConfig(config + Command, 2) & ~(IoSpaceEnable | MemorySpaceEnable));
                functions.Add(config);
                if ((bus.ReadPciConfig(config + HeaderType, 1) & 0x7F) == 0)
                {
                    SizeBars(bus, config, bars);
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

        SetUpKeyboardController(bus);
        AssignBars(bus, bars);
        foreach (ulong config in functions)
        {
            bus.WritePciConfig(config + Command, 2, bus.ReadPciConfig(config + Command, 2) | IoSpaceEnable | MemorySpaceEnable);
        }

        return configured;
    }

    /// <summary>The 8042's status and data ports, its "write command byte" command, and the command byte firmware leaves.</summary>
    private const ushort KeyboardStatusPort = 0x64, KeyboardDataPort = 0x60;
    private const byte WriteCommandByte = 0x60;
    private const byte FirmwareCommandByte = 0x61; // translate (0x40) | mouse disabled (0x20) | keyboard interrupt (0x01)

    private static void SetUpKeyboardController(MachineBus bus)
    {
        if (bus.ReadPort(KeyboardStatusPort, 1) == 0xFF)
        {
            return; // no controller: nothing decodes the port
        }

        bus.WritePort(KeyboardStatusPort, 1, WriteCommandByte);
        bus.WritePort(KeyboardDataPort, 1, FirmwareCommandByte);
    }

    /// <summary>A BAR to place: its register, its size (a power of two, also its alignment) and its kind.</summary>
    private readonly record struct BarRequest(ulong Register, ulong Size, bool Io, bool Wide);

    /// <summary>Sizes the function's six BARs the standard way (write all ones, read the mask back) and notes those that exist.</summary>
    private static void SizeBars(MachineBus bus, ulong config, List<BarRequest> bars)
    {
        for (int index = 0; index < 6; index++)
        {
            ulong register = config + FirstBar + (ulong)(4 * index);
            ulong original = bus.ReadPciConfig(register, 4);
            bus.WritePciConfig(register, 4, 0xFFFF_FFFF);
            ulong mask = bus.ReadPciConfig(register, 4);
            bus.WritePciConfig(register, 4, original);
            if (mask is 0 or 0xFFFF_FFFF)
            {
                continue; // not implemented
            }

            bool io = (mask & 1) != 0;
            bool wide = !io && ((mask >> 1) & 3) == 2;
            ulong size = io ? (~(mask & ~3UL) + 1) & 0xFFFF : (~(mask & ~0xFUL) + 1) & 0xFFFF_FFFF;
            bars.Add(new BarRequest(register, size, io, wide));
            if (wide)
            {
                index++; // the upper half of a 64-bit BAR: placed below 4 GiB, so it stays 0
            }
        }
    }

    /// <summary>Places the BARs largest first, each aligned to its size: I/O up from 0xC000, memory down from 0xFEC00000.</summary>
    private static void AssignBars(MachineBus bus, List<BarRequest> bars)
    {
        ulong nextIo = IoBarStart, memoryTop = MemoryBarEnd;
        foreach (BarRequest bar in bars.OrderByDescending(b => b.Size))
        {
            ulong address;
            if (bar.Io)
            {
                address = (nextIo + bar.Size - 1) & ~(bar.Size - 1);
                if (address + bar.Size > 0x1_0000)
                {
                    continue; // no room: the kernel assigns it (and says so)
                }

                nextIo = address + bar.Size;
            }
            else
            {
                address = (memoryTop - bar.Size) & ~(bar.Size - 1);
                memoryTop = address;
            }

            bus.WritePciConfig(bar.Register, 4, address);
            if (bar.Wide)
            {
                bus.WritePciConfig(bar.Register + 4, 4, 0);
            }
        }
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
