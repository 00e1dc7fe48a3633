using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// Bus-master DMA with real processes: a guest drives the PIIX3 IDE controller's READ DMA into guest RAM, with
/// the controller in a device process (DMA through the shared guest memory, within the granted window) and
/// inline. See <see cref="BusMasterDmaGuest"/> for what is checked.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class BusMasterDmaTests
{
    /// <summary>
    /// An IDE access in the guest's last READ DMA set-up: after the WRITE DMA (accesses ~42-54: 2 configuration
    /// writes, then 13 per transfer) and the guest's overwrite of its buffer, before the read-back's transfer
    /// starts (~64). The guest's accesses are deterministic (no BIOS, no timers).
    /// </summary>
    private const int KillAfterWriteBackBufferChanged = 58;

    [Theory]
    [InlineData("isolated", 0)]
    [InlineData("inline", 0)]
    [InlineData("isolated", KillAfterWriteBackBufferChanged)]
    public void Dma_LandsInGuestRam_ReplacesStaleCode_FailsCleanlyOutsideRam_AndWritesBackExactly(string idePlacement, int killAtAccess)
    {
        // killAtAccess > 0: the controller's process dies at that access (stall), and its successor gets the last
        // snapshot plus the journal replayed. It must not replay the WRITE DMA against the buffer the guest has
        // overwritten since (it did before replies carried DidDma: the test then fails with FailedWriteBack).
        using TempFolder folder = new();
        string report = folder.File("report.json");
        string profile = BusMasterDmaGuest.WriteMachine(folder, idePlacement);

        string[] crashes = killAtAccess > 0 ? ["--set", $"devices.ide.crash.atAccess={killAtAccess}"] : [];
        using SplitEmuProcess run = SplitEmuProcess.Start(["run", profile, "--report", report, "--timeout", "100", .. crashes]);
        run.WaitForExit(TestDeadlines.Minutes(2));

        Assert.True(run.ExitCode == ((BusMasterDmaGuest.Success << 1) | 1), $"exit {run.ExitCode} = guest value 0x{run.ExitCode >> 1:X2}; stderr: {run.StandardError}");
        RunReport parsed = RunReport.Read(report);
        DeviceSection ide = parsed.Devices.Single(d => d.Id == "ide");
        Assert.Equal(idePlacement, ide.Placement);
        if (idePlacement == "isolated")
        {
            Assert.NotEqual(parsed.CpuProcessId, ide.ProcessId);
        }

        if (killAtAccess > 0)
        {
            Assert.Equal(1, ide.Restarts);
            Assert.All(ide.Crashes!, c => Assert.Equal(0, c.Divergences));
        }

        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
    }
}
