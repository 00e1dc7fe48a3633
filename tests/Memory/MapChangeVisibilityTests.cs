using Iced.Intel;
using SplitEmu.CpuHost.Machine;
using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Tests.Memory;

/// <summary>A map change a device makes from inside its handler is seen by the guest's very next instruction.</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class MapChangeVisibilityTests
{
    private const ushort OldBase = 0x510;
    private const ushort NewBase = 0x80; // below 0x100 so that `in eax, imm8` can name it
    private const uint Results = 0x2000;
    private const ulong LoadAddress = 0x1000;

    [Fact]
    public async Task MoveRequestedByAnIsolatedDevice_IsVisibleToTheNextInstruction()
    {
        using TempFolder folder = new();
        string image = folder.File("guest.bin");
        File.WriteAllBytes(image, Guest());
        MachineProfile profile = IsolatedDeviceHarness.Profile(
            new DeviceConfig { Id = "dev", Type = TestDevice.TypeName, Io = OldBase, Placement = Placement.Isolated },
            new DeviceConfig { Id = "exit", Type = "debug-exit", Io = 0x501, Placement = Placement.Inline }) with
        {
            Load = [new LoadConfig { File = image, Address = LoadAddress }],
            Cpu = new CpuConfig { Mode = CpuStartMode.Protected32Flat, Entry = LoadAddress, Stack = 0x8000 },
        };
        await using IsolatedDeviceHarness harness = await IsolatedDeviceHarness.StartAsync(profile);
        VirtualMachine machine = harness.Machine;
        using CancellationTokenSource limit = new(TestDeadlines.Seconds(30));

        var exit = await Task.Run(() => machine.Run(limit.Token));

        Assert.Equal(SplitEmu.Shared.Rpc.ExitReason.GuestExit, exit.Reason);
        byte[] results = machine.Ram.Read(Results, 8);
        Assert.Equal(NewBase, BitConverter.ToUInt32(results, 0)); // the register answered at its new place
        Assert.Equal(0xFFFF_FFFFu, BitConverter.ToUInt32(results, 4)); // and no longer at the old one
    }

    /// <summary>
    /// Sets the device's new base, asks it to move, and reads the new base register at the new address with the
    /// instruction right after the `out` that caused the move.
    /// </summary>
    private static byte[] Guest()
    {
        Assembler a = new(32);
        a.mov(dx, OldBase + (ushort)TestDevice.NewBaseRegister);
        a.mov(eax, (uint)NewBase);
        a.@out(dx, eax);
        a.mov(dx, OldBase + (ushort)TestDevice.MapChangeRegister);
        a.mov(eax, (uint)MapChangeKind.Move);
        a.@out(dx, eax);                                  // the device moves its region from inside this access
        a.@in(eax, (byte)(NewBase + TestDevice.NewBaseRegister)); // the very next instruction
        a.mov(__dword_ptr[Results], eax);
        a.mov(dx, OldBase + (ushort)TestDevice.NewBaseRegister);
        a.@in(eax, dx);
        a.mov(__dword_ptr[Results + 4], eax);
        a.mov(dx, 0x501);
        a.mov(al, 0);
        a.@out(dx, al);
        a.hlt();
        MemoryStream code = new();
        a.Assemble(new StreamCodeWriter(code), LoadAddress);
        return code.ToArray();
    }
}
