using SplitEmu.CpuHost.Machine;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Boot;

/// <summary>
/// A directly booted kernel runs no firmware, so the loader does firmware's few PCI enables itself: Linux's
/// ata_piix ignores a PIIX IDE channel whose IDETIM decode-enable bit (15) is clear, and only firmware sets it.
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
