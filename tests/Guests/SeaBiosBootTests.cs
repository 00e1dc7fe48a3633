using SplitEmu.Guests;
using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Infrastructure;
using SplitEmu.Tests.Profiles;
using Xunit.Abstractions;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// The first real guest nobody here wrote: Debian's SeaBIOS boots the project's boot sector from an ATA disk
/// behind the PIIX3 IDE controller, as the shipped profile <c>profiles/seabios.json</c> describes (the same
/// boot QEMU does in notes/seabios-reference-boot.md). What SeaBIOS says on its debug console (port 0x402) and
/// on COM1 shows that it found the controller and the disk and booted it.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class SeaBiosBootTests(ITestOutputHelper output)
{
    /// <summary>Where Debian's seabios package puts the image the profile names (.ci/run installs it).</summary>
    private const string SeaBiosImage = "/usr/share/seabios/bios.bin";

    private static readonly string s_profile = Path.Combine(ProfileTestPaths.ShippedProfiles, "seabios.json");

    /// <summary>The disk the shipped profile boots (built by guests/ next to splitemu).</summary>
    private static readonly string s_bootDisk = Path.Combine(AppContext.BaseDirectory, "guests", "boot-disk.img");

    /// <summary>Lines of SeaBIOS's debug console that say it found our platform, the disk, and booted it.</summary>
    private static readonly string[] s_expectedDebugLines =
    [
        "SeaBIOS (version 1.16.2",
        "Running on QEMU (i440fx)",
        "Found QEMU fw_cfg",
        "QEMU fw_cfg DMA interface supported",
        "qemu/e820: addr 0x0000000000000000 len 0x0000000004000000 [RAM]",
        "PCI: init bdf=00:01.1 id=8086:7010",
        "sercon: using ioport 0x3f8",
        "ATA controller 1 at 1f0/3f4/0 (irq 14 dev 9)",
        "ata0-0: SPLITEMU HARDDISK ATA-7 Hard-Disk (4 MiBytes)",
        "Booting from Hard Disk...",
        "Booting from 0000:7c00",
    ];

    [Theory]
    [InlineData("isolated")]
    [InlineData("inline")]
    public void SeaBios_FindsTheIdeDisk_AndBootsItsBootSector(string idePlacement)
    {
        Boot boot = RunSeaBios($"devices.ide.placement={idePlacement}");

        Assert.Equal((BootSectorGuest.ExitValue << 1) | 1, boot.ExitCode);
        AssertInOrder(boot.DebugConsole, s_expectedDebugLines);
        Assert.Contains("PS2 keyboard initialized", boot.DebugConsole, StringComparison.Ordinal); // probed in a thread of its own: any order
        Assert.DoesNotContain("WARNING", boot.DebugConsole, StringComparison.Ordinal);
        AssertInOrder(boot.Serial, ["Booting from Hard Disk...", BootSectorGuest.Line]);
        DeviceSection ide = boot.Report.Devices.Single(d => d.Id == "ide");
        Assert.Equal(idePlacement, ide.Placement);
        Assert.True(ide.Accesses.Reads > 256, $"the IDE controller served {ide.Accesses.Reads} reads; a sector alone is 256");
        if (idePlacement == "isolated")
        {
            Assert.NotEqual(boot.Report.CpuProcessId, ide.ProcessId);
        }

        output.WriteLine($"IDE {idePlacement}: reset to exit {boot.Report.WallTimeMs:F0} ms, {boot.Report.Instructions:N0} instructions");
    }

    [Fact]
    public void SeaBios_ReadsFwCfgByDma_FromADeviceProcess()
    {
        // fw_cfg's DMA interface writes the e820 map and the file directory into guest RAM: isolated, through
        // the shared guest memory within its granted window.
        Boot boot = RunSeaBios("devices.fwcfg.placement=isolated");

        Assert.Equal((BootSectorGuest.ExitValue << 1) | 1, boot.ExitCode);
        AssertInOrder(boot.DebugConsole, s_expectedDebugLines);
        DeviceSection fwcfg = boot.Report.Devices.Single(d => d.Id == "fwcfg");
        Assert.NotEqual(boot.Report.CpuProcessId, fwcfg.ProcessId);
    }

    [Fact]
    public void SeaBios_BootsAnyway_WhenTheIdeProcessIsKilledWhileItReadsTheDisk()
    {
        // Every 100th access to the controller kills its process: the IDENTIFY data and the boot sector
        // (256 data-port reads each) are read across several deaths. Under stall the guest sees none of them.
        Boot boot = RunSeaBios("devices.ide.crash.everyAccesses=100", "devices.ide.restart.maxRestarts=1000", "devices.ide.restart.backoffMs=0");

        Assert.Equal((BootSectorGuest.ExitValue << 1) | 1, boot.ExitCode);
        AssertInOrder(boot.DebugConsole, s_expectedDebugLines);
        AssertInOrder(boot.Serial, ["Booting from Hard Disk...", BootSectorGuest.Line]);
        DeviceSection ide = boot.Report.Devices.Single(d => d.Id == "ide");
        Assert.True(ide.Restarts >= 3, $"expected the IDE process to die at least 3 times, it restarted {ide.Restarts} times");
        Assert.Equal(0, ide.Accesses.BusErrors);
        Assert.All(ide.Crashes!, c => Assert.Equal(0, c.Divergences));
        output.WriteLine($"{ide.Restarts} IDE restarts; reset to exit {boot.Report.WallTimeMs:F0} ms");
    }

    [Fact]
    public void SeaBios_BootsAnyway_WhenThePitProcessIsKilledDuringCalibration()
    {
        // SeaBIOS calibrates its TSC first thing it does with the 8254: read and write port 0x61, program counter 2
        // (mode, LSB, MSB), then poll port 0x61 until OUT2 rises. How many polls that takes depends on the host's
        // speed (CI saw fewer than 15), so the kill is pinned to the 6th access, the first poll, which every boot
        // makes. The timer comes back from its snapshot and journal and keeps driving IRQ 0 across the process
        // boundary (the boot sector's wait for two ticks needs it).
        Boot boot = RunSeaBios("devices.pit.crash.atAccess=6");

        Assert.Equal((BootSectorGuest.ExitValue << 1) | 1, boot.ExitCode);
        AssertInOrder(boot.Serial, ["Booting from Hard Disk...", BootSectorGuest.Line]);
        DeviceSection pit = boot.Report.Devices.Single(d => d.Id == "pit");
        Assert.Equal(1, pit.Restarts);
        Assert.Equal(0, pit.Accesses.BusErrors);
    }

    [Fact]
    public void SeaBios_StartsAndCountsEveryVcpu_ThenBoots()
    {
        // SeaBIOS sends INIT and start-up IPIs to all other processors, counts those that check in against the
        // count CMOS and fw_cfg report (it waits until they agree), and writes MP tables for them.
        Boot boot = RunSeaBios("cpu.count=4");

        Assert.Equal((BootSectorGuest.ExitValue << 1) | 1, boot.ExitCode);
        Assert.Contains("Found 4 cpu(s) max supported 4 cpu(s)", boot.DebugConsole);
        Assert.Contains("Copying MPTABLE", boot.DebugConsole);
        AssertInOrder(boot.Serial, ["Booting from Hard Disk...", BootSectorGuest.Line]);
    }

    [Fact]
    public void SeaBios_SaysWhatItSaysOnQemu_ButForTheHardwareWeLeaveOut()
    {
        // Differential run: the same bios.bin and disk on QEMU's pc machine (the reference) and on ours, with
        // the IDE controller isolated. Their debug-console logs must agree line for line once the documented
        // differences (SeaBiosLogComparison's rules, each with its reason) are taken out.
        (int qemuExit, string qemuLog) = QemuReference.BootPc(SeaBiosImage, s_bootDisk);
        Boot boot = RunSeaBios();
        HashSet<string> forgiven = [];

        List<string> expected = SeaBiosLogComparison.Normalize(qemuLog, fromQemu: true, forgiven);
        List<string> actual = SeaBiosLogComparison.Normalize(boot.DebugConsole, fromQemu: false, forgiven);

        Assert.Equal((BootSectorGuest.ExitValue << 1) | 1, qemuExit);
        Assert.Equal(qemuExit, boot.ExitCode);
        Assert.True(expected.SequenceEqual(actual), "the logs differ beyond the known differences:\n"
            + string.Join('\n', expected.Except(actual).Select(l => $"- {l}").Concat(actual.Except(expected).Select(l => $"+ {l}")))
            + $"\n\nQEMU, normalized:\n{string.Join('\n', expected)}\n\nSplitEmu, normalized:\n{string.Join('\n', actual)}");
        Assert.True(forgiven.SetEquals(SeaBiosLogComparison.Reasons), "rules that matched nothing (stale: remove them): "
            + string.Join("; ", SeaBiosLogComparison.Reasons.Except(forgiven)));
        output.WriteLine($"{expected.Count} lines agree; forgiven: {string.Join("; ", forgiven.Order(StringComparer.Ordinal))}");
    }

    private Boot RunSeaBios(params string[] overrides)
    {
        Assert.True(File.Exists(SeaBiosImage), $"{SeaBiosImage} is missing: install Debian's seabios package (.ci/run does)");
        using TempFolder folder = new();
        string report = folder.File("report.json");
        string debugConsole = folder.File("debugcon.log");
        List<string> arguments = ["run", s_profile, "--report", report, "--device-log", $"debugcon={debugConsole}", "--timeout", "150"];
        foreach (string value in overrides)
        {
            arguments.AddRange(["--set", value]);
        }

        using SplitEmuProcess run = SplitEmuProcess.Start([.. arguments]);
        run.WaitForExit(TestDeadlines.Minutes(3));
        string debugText = File.Exists(debugConsole) ? File.ReadAllText(debugConsole) : "";
        output.WriteLine(debugText);
        output.WriteLine(run.StandardError);
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
        return new Boot(run.ExitCode, run.StandardOutput.Replace("\r", "", StringComparison.Ordinal), debugText, RunReport.Read(report));
    }

    private static void AssertInOrder(string text, IEnumerable<string> lines)
    {
        int at = 0;
        foreach (string line in lines)
        {
            int found = text.IndexOf(line, at, StringComparison.Ordinal);
            Assert.True(found >= 0, $"expected '{line}' after position {at} in:\n{text}");
            at = found + line.Length;
        }
    }

    private sealed record Boot(int ExitCode, string Serial, string DebugConsole, RunReport Report);
}
