using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// A reset line resets the machine instead of ending it: the PCI reset control register (in the CPU process)
/// and the keyboard controller's pulse (from its own device process) both bring every device back to power-on,
/// also the UART in its own process, load the image again and start the CPU over, with guest RAM kept.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class MachineResetTests
{
    [Theory]
    [InlineData(ResetGuest.Line.ResetControlRegister)]
    [InlineData(ResetGuest.Line.KeyboardController)]
    public void ResetLine_ResetsEveryDeviceAndStartsTheGuestOver(ResetGuest.Line line)
    {
        using TempFolder folder = new();
        string guest = folder.File("reset.bin");
        File.WriteAllBytes(guest, ResetGuest.Build(line));
        string profile = folder.File("reset.json");
        File.WriteAllText(profile, $$"""
            {
              "schemaVersion": 1,
              "name": "reset-test",
              "memory": { "sizeMiB": 4 },
              "load": [ { "file": "{{guest}}", "format": "flat", "address": "0x100000" } ],
              "cpu": { "mode": "protected32-flat", "entry": "0x100000", "stack": "0x180000" },
              "devices": [
                { "id": "pic", "type": "i8259" },
                { "id": "pci", "type": "i440fx" },
                { "id": "kbd", "type": "i8042", "placement": "isolated" },
                { "id": "com1", "type": "uart16550", "io": "0x3f8", "irq": 4, "placement": "isolated" },
                { "id": "exit", "type": "debug-exit", "io": "0x501", "placement": "inline" }
              ]
            }
            """);

        using SplitEmuProcess run = SplitEmuProcess.Start("run", profile);
        run.WaitForExit(TestDeadlines.Seconds(60));

        Assert.True(run.ExitCode == ((ResetGuest.Success << 1) | 1), $"exit {run.ExitCode} = guest value 0x{run.ExitCode >> 1:X2}; stderr: {run.StandardError}");
        Assert.Contains("machine 'reset-test' reset (requested by", run.StandardError, StringComparison.Ordinal);
    }
}
