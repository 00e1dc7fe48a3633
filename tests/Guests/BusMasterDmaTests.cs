using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// Bus-master DMA with real processes: a guest drives the PIIX3 IDE controller's READ DMA into guest RAM, with
/// the controller in a device process (DMA through the shared guest memory, within the granted window) and
/// inline. See <see cref="BusMasterDmaGuest"/> for what is checked.
/// </summary>
public sealed class BusMasterDmaTests
{
    [Theory]
    [InlineData("isolated")]
    [InlineData("inline")]
    public void ReadDma_LandsInGuestRam_ReplacesStaleCode_AndAWildAddressFailsCleanly(string idePlacement)
    {
        using TempFolder folder = new();
        string disk = folder.File("disk.img");
        string guest = folder.File("dma.bin");
        string report = folder.File("report.json");
        File.WriteAllBytes(disk, BusMasterDmaGuest.BuildDisk());
        File.WriteAllBytes(guest, BusMasterDmaGuest.Build());
        string profile = folder.File("dma.json");
        File.WriteAllText(profile, $$"""
            {
              "schemaVersion": 1,
              "name": "dma-test",
              "memory": { "sizeMiB": 16 },
              "load": [ { "file": "{{guest}}", "format": "flat", "address": "0x100000" } ],
              "cpu": { "mode": "protected32-flat", "entry": "0x100000", "stack": "0x200000" },
              "devices": [
                { "id": "pci", "type": "i440fx" },
                { "id": "ide", "type": "piix3-ide", "placement": "{{idePlacement}}", "config": { "primary-master": "{{disk}}" } },
                { "id": "exit", "type": "debug-exit", "io": "0x501", "placement": "inline" }
              ]
            }
            """);

        using SplitEmuProcess run = SplitEmuProcess.Run("run", profile, "--report", report, "--timeout", "50");

        Assert.True(run.ExitCode == ((BusMasterDmaGuest.Success << 1) | 1), $"exit {run.ExitCode} = guest value 0x{run.ExitCode >> 1:X2}; stderr: {run.StandardError}");
        RunReport parsed = RunReport.Read(report);
        DeviceSection ide = parsed.Devices.Single(d => d.Id == "ide");
        Assert.Equal(idePlacement, ide.Placement);
        if (idePlacement == "isolated")
        {
            Assert.NotEqual(parsed.CpuProcessId, ide.ProcessId);
        }

        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
    }
}
