using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using SplitEmu.Launch.Profiles;
using SplitEmu.Launch.Reports;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;
using SplitEmu.Tests.Profiles;
using Xunit.Abstractions;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// Debian's own kernel and busybox, booted by the shipped <c>profiles/linux.json</c> to a shell, used through
/// the console as a person would: <c>cat /proc/cpuinfo</c>, mount the ext4 disk on the PIIX3's IDE drive and
/// <c>md5sum</c> a 32 MiB file on it, while the IDE controller's device process is killed every few hundred
/// accesses under the kernel's own ata_piix driver and COM1's every few thousand. With <c>whileDown: stall</c>
/// the checksum equals the one computed here, a text file comes back through the console byte for byte, the
/// kernel logs no ATA error or clock complaint, and its log says what the same kernel says on QEMU but for the
/// documented hardware differences. One boot (<see cref="LinuxShellSession"/>) pays for every check (a boot is
/// ~1 G instructions of decompression and start-up).
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class LinuxShellTests(LinuxShellSession session, ITestOutputHelper output) : IClassFixture<LinuxShellSession>
{
    [Fact]
    public void Shell_ChecksumsA32MiBFileOnTheIdeDisk_Exactly_WhileIdeAndCom1AreKilled()
    {
        LinuxConsole console = session.Console;
        string cpuinfo = console.Run("cat /proc/cpuinfo", TestDeadlines.Seconds(60));
        Assert.Contains("GenuineIntel", cpuinfo);
        Assert.Matches(@"fpu\s*: yes", cpuinfo);
        Assert.Matches(@"flags\s*:.*\bsep\b.*\bcmov\b", cpuinfo);

        string mounted = console.Run("mount -t ext4 /dev/sda /mnt && echo mounted-$((6*7))", TestDeadlines.Minutes(3));
        Assert.True(mounted.Contains("mounted-42", StringComparison.Ordinal),
            $"mounting the IDE disk failed:\n{mounted}\nkernel log:\n{console.Run("dmesg | tail -40", TestDeadlines.Seconds(60))}");
        string listed = console.Run("cat /mnt/notes.txt", TestDeadlines.Seconds(60));
        Assert.Contains(session.Notes.TrimEnd('\n'), listed);

        string checksum = console.Run("md5sum /mnt/big.bin", TestDeadlines.Minutes(4));
        Assert.Contains($"{session.BigFileMd5}  /mnt/big.bin", checksum);

        string complaints = console.Run("dmesg | grep -iE 'ata[0-9.]*: .*(timeout|reset|exception|failed)|clocksource.*unstable' ; true", TestDeadlines.Seconds(60));
        Assert.True(complaints.Trim().Length == 0, $"the kernel complained:\n{complaints}");

        console.Type("poweroff -f\n"); // ACPI soft-off (acpi-pm): the machine ends with exit code 0
        session.Splitemu.WaitForExit(TestDeadlines.Seconds(120));
        Assert.True(session.Splitemu.ExitCode == 0, $"poweroff ended the machine with exit {session.Splitemu.ExitCode}; stderr:\n{session.Splitemu.StandardError}");
        RunReport parsed = RunReport.Read(session.Report);
        DeviceSection ide = parsed.Devices.Single(d => d.Id == "ide");
        DeviceSection com1 = parsed.Devices.Single(d => d.Id == "com1");
        Assert.True(ide.Restarts > 0, "the IDE device process was never killed");
        Assert.True(com1.Restarts > 0, "the COM1 device process was never killed");
        Assert.All(ide.Crashes!, c => Assert.Equal(0, c.Divergences));
        Assert.All(com1.Crashes!, c => Assert.Equal(0, c.Divergences));
        foreach (DeviceSection device in new[] { ide, com1 })
        {
            double[] blocked = [.. device.Crashes!.Select(c => c.GuestBlockedMs ?? 0).Order()];
            output.WriteLine($"{device.Id}: {device.Restarts} restarts, guest blocked p50 {blocked[blocked.Length / 2]:F0} ms, "
                + $"p99 {blocked[Math.Min(blocked.Length - 1, blocked.Length * 99 / 100)]:F0} ms, divergences {device.Crashes!.Sum(c => c.Divergences)}");
        }

        output.WriteLine($"{parsed.Instructions:N0} guest instructions in {parsed.WallTimeMs / 1000:F1} s");
    }

    [Fact]
    public void KernelLog_SaysWhatItSaysOnQemu_ButForTheHardwareWeLeaveOut()
    {
        // Differential run: the same kernel, initrd, command line and disk on QEMU's pc machine (the reference).
        // Our log was taken while the IDE and COM1 device processes were being killed. The two logs must agree
        // line for line once the documented differences (LinuxLogComparison's rules, each with its reason) are
        // taken out; the few lines of asynchronous work are compared as a set.
        const int Id = 2000;
        string qemuConsole = QemuReference.RunLinux(LinuxGuest.Kernel, LinuxGuest.Initrd, session.Cmdline, session.Disk, session.MemoryMiB,
            LinuxConsole.Framed(Id, LinuxShellSession.KernelLogCommand) + "; poweroff -f");
        Assert.True(LinuxConsole.TryExtract(qemuConsole, Id, out string qemuLog), $"QEMU's console has no framed kernel log:\n{qemuConsole}");
        HashSet<string> forgiven = [];

        (List<string> expected, List<string> expectedFloating) = LinuxLogComparison.Normalize(qemuLog, fromQemu: true, forgiven);
        (List<string> actual, List<string> actualFloating) = LinuxLogComparison.Normalize(session.KernelLog, fromQemu: false, forgiven);

        int firstDifference = Enumerable.Range(0, Math.Min(expected.Count, actual.Count)).FirstOrDefault(i => expected[i] != actual[i], Math.Min(expected.Count, actual.Count));
        Assert.True(expected.SequenceEqual(actual) && expectedFloating.SequenceEqual(actualFloating), "the kernel logs differ beyond the known differences:\n"
            + string.Join('\n', expected.Concat(expectedFloating).Except(actual.Concat(actualFloating)).Select(l => $"- {l}")
                .Concat(actual.Concat(actualFloating).Except(expected.Concat(expectedFloating)).Select(l => $"+ {l}")))
            + $"\n\nfirst line out of place, line {firstDifference}:\nQEMU:\n{string.Join('\n', expected.Skip(firstDifference - 2).Take(5))}"
            + $"\nSplitEmu:\n{string.Join('\n', actual.Skip(firstDifference - 2).Take(5))}"
            + $"\n\nQEMU, normalized:\n{string.Join('\n', expected)}\n\nSplitEmu, normalized:\n{string.Join('\n', actual)}");
        Assert.True(forgiven.SetEquals(LinuxLogComparison.Reasons), "rules that matched nothing (stale: remove them): "
            + string.Join("; ", LinuxLogComparison.Reasons.Except(forgiven)));
        output.WriteLine($"{expected.Count + expectedFloating.Count} lines agree; forgiven: {string.Join("; ", forgiven.Order(StringComparer.Ordinal))}");
    }
}

/// <summary>
/// The booted Linux machine <see cref="LinuxShellTests"/> share: the shipped profile with a disk built here, the
/// IDE device process killed every 400 accesses and COM1's every 5000, booted to the shell; the disk has
/// appeared, the kernel has switched to the TSC clocksource, and its log (<see cref="KernelLog"/>) is taken.
/// </summary>
public sealed class LinuxShellSession : IDisposable
{
    /// <summary>
    /// Waits for the state both machines reach at the end of their boot (the disk probed, the TSC clocksource in
    /// use) and prints the kernel log; kernel messages stop going to the console first, so they cannot interleave.
    /// </summary>
    public const string KernelLogCommand = "dmesg -n 1; for i in $(seq 120); do [ -b /dev/sda ] && grep -q tsc /sys/devices/system/clocksource/clocksource0/current_clocksource && break; sleep 1; done; dmesg";

    private const int BigFileBytes = 32 << 20;

    private readonly TempFolder _folder = new();

    public LinuxShellSession()
    {
        try
        {
            _ = LinuxGuest.Folder;
            (Disk, BigFileMd5, Notes) = LinuxTestDisk.Build(_folder, BigFileBytes);
            Report = _folder.File("report.json");
            string profile = Path.Combine(ProfileTestPaths.ShippedProfiles, "linux.json");
            MachineProfile shipped = ProfileLoader.ForCurrentProcess().Load(profile, []).Profile
                ?? throw new InvalidOperationException($"{profile} does not load");
            (Cmdline, MemoryMiB) = (shipped.Cmdline ?? "", shipped.Memory.SizeMiB);
            Splitemu = SplitEmuProcess.Start(
                "run", profile, "--report", Report, "--set", $"cmdline={Cmdline}",
                "--set", $"kernel={LinuxGuest.Kernel}", "--set", $"initrd={LinuxGuest.Initrd}",
                "--set", $"devices.ide.config.primary-master={Disk}",
                "--set", "devices.ide.crash.everyAccesses=400", "--set", "devices.ide.restart.maxRestarts=1000",
                "--set", "devices.com1.crash.everyAccesses=5000", "--set", "devices.com1.restart.maxRestarts=1000");
            Console = new LinuxConsole(Splitemu);
            Console.WaitFor("is up; busybox shell on the console", TestDeadlines.Minutes(5));
            KernelLog = Console.Run(KernelLogCommand, TestDeadlines.Minutes(3));
            Assert.Contains("sd 0:0:0:0: [sda] Attached SCSI disk", KernelLog);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public SplitEmuProcess Splitemu { get; } = null!;

    public LinuxConsole Console { get; } = null!;

    /// <summary>The disk image (ext4) the machine's IDE master serves.</summary>
    public string Disk { get; } = "";

    public string BigFileMd5 { get; } = "";

    public string Notes { get; } = "";

    public string Report { get; } = "";

    /// <summary>The kernel command line (the shipped profile's) and memory size: QEMU's run uses the same.</summary>
    public string Cmdline { get; } = "";

    public int MemoryMiB { get; }

    /// <summary>`dmesg` once the boot has settled (see <see cref="KernelLogCommand"/>).</summary>
    public string KernelLog { get; } = "";

    public void Dispose()
    {
        Splitemu?.Dispose();
        _folder.Dispose();
    }
}
