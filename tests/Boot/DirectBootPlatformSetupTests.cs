using SplitEmu.CpuHost.Machine;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Boot;

/// <summary>
/// A directly booted kernel runs no firmware, so the loader does firmware's PCI set-up itself, as SeaBIOS does
/// on QEMU: BARs assigned, I/O and memory decode on, and the IDETIM decode-enable bit (15) that Linux's ata_piix
/// needs and only firmware sets.
/// </summary>
public sealed class DirectBootPlatformSetupTests
{
    private static VirtualMachine NewMachine(params DeviceConfig[] devices) =>
        new(new MachineProfile { Name = "platform", Memory = new MemoryConfig { SizeMiB = 2 }, Devices = devices },
            $"splitemu-{Environment.ProcessId}-platform-{Guid.NewGuid():N}", new DiscardOutput());

    private static readonly DeviceConfig s_hostBridge = new() { Id = "pci", Type = "i440fx", Placement = Placement.Inline };

    /// <summary>Function 0 of the PIIX3's slot: without it the slot is empty to any PCI scan (the IDE is function 1).</summary>
    private static readonly DeviceConfig s_isaBridge = new() { Id = "isa", Type = "piix3-isa", Placement = Placement.Inline };

    [Fact]
    public void Setup_EnablesBothIdeChannelsDecode_AndKeepsTheTimingBitsFirmwareLeftAlone()
    {
        using VirtualMachine machine = NewMachine(s_hostBridge, s_isaBridge, new DeviceConfig { Id = "ide", Type = "piix3-ide", Placement = Placement.Inline });
        ulong ide = FindFunction(machine, 0x7010);
        machine.Bus.WritePciConfig(ide + 0x40, 2, 0x0023); // timing bits a driver (or firmware) chose

        int configured = DirectBootPlatformSetup.Run(machine.Bus);

        Assert.Equal(1, configured);
        Assert.Equal(0x8023UL, machine.Bus.ReadPciConfig(ide + 0x40, 2));
        Assert.Equal(0x8000UL, machine.Bus.ReadPciConfig(ide + 0x42, 2));
    }

    [Fact]
    public void Setup_AssignsTheBusMasterBarAt0xC000_AndTurnsDecodeOn_SoItsRegistersAnswerThere()
    {
        using VirtualMachine machine = NewMachine(s_hostBridge, s_isaBridge, new DeviceConfig { Id = "ide", Type = "piix3-ide", Placement = Placement.Inline });
        ulong ide = FindFunction(machine, 0x7010);
        Assert.Equal(0xFFu, machine.Bus.ReadPort(0xC002, 1)); // nothing decodes there before: all ones

        DirectBootPlatformSetup.Run(machine.Bus);

        Assert.Equal(0xC001UL, machine.Bus.ReadPciConfig(ide + 0x20, 4)); // BAR4: I/O at 0xC000
        Assert.Equal(0UL, machine.Bus.ReadPciConfig(ide + 0x10, 4));     // BAR0-3 are not implemented in legacy mode
        Assert.Equal(0x1UL, machine.Bus.ReadPciConfig(ide + 0x04, 2) & 0x1); // I/O decode on
        Assert.Equal(0u, machine.Bus.ReadPort(0xC000, 1));               // bus-master command register: stopped
    }

    [Fact]
    public void Setup_LeavesThe8042TranslatingWithTheMousePortOff_AsFirmwareDoes()
    {
        using VirtualMachine machine = NewMachine(new DeviceConfig { Id = "kbd", Type = "i8042", Placement = Placement.Inline });

        DirectBootPlatformSetup.Run(machine.Bus);

        machine.Bus.WritePort(0x64, 1, 0x20); // read command byte
        Assert.Equal(0x61u, machine.Bus.ReadPort(0x60, 1));
    }

    [Fact]
    public void Setup_WithoutAnIdeFunction_ConfiguresNothing()
    {
        using VirtualMachine machine = NewMachine(s_hostBridge, s_isaBridge);

        Assert.Equal(0, DirectBootPlatformSetup.Run(machine.Bus));
    }

    /// <summary>The configuration address of the Intel function with <paramref name="deviceId"/> on bus 0.</summary>
    private static ulong FindFunction(VirtualMachine machine, ushort deviceId)
    {
        for (int device = 0; device < 32; device++)
        {
            for (int function = 0; function < 8; function++)
            {
                ulong address = PciConfigAddress.Of(0, device, function);
                if (machine.Bus.ReadPciConfig(address, 4) == (0x8086u | ((ulong)deviceId << 16)))
                {
                    return address;
                }
            }
        }

        throw new Xunit.Sdk.XunitException($"no function 8086:{deviceId:x4} on bus 0");
    }
}
