using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Infrastructure;
using SplitEmu.Tests.Profiles;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// Debian's own kernel and busybox, booted by the shipped <c>profiles/linux.json</c> to a shell, used through
/// the console as a person would: <c>cat /proc/cpuinfo</c>, mount the ext4 disk on the PIIX3's IDE drive and
/// <c>md5sum</c> a 32 MiB file on it, while the IDE controller's device process is killed every few hundred
/// accesses under the kernel's own ata_piix driver and COM1's every few thousand. With <c>whileDown: stall</c>
/// the checksum equals the one computed here, a text file comes back through the console byte for byte, and
/// the kernel logs no ATA error or clock complaint. One boot pays for every check (a boot is ~1 G
/// instructions of decompression and start-up).
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class LinuxShellTests
{
    private const int BigFileBytes = 32 << 20;

    [Fact]
    public void Shell_ChecksumsA32MiBFileOnTheIdeDisk_Exactly_WhileIdeAndCom1AreKilled()
    {
        _ = LinuxGuest.Folder;
        using TempFolder folder = new();
        (string disk, string bigFileMd5, string notes) = BuildDisk(folder);
        string report = folder.File("report.json");

        using SplitEmuProcess splitemu = SplitEmuProcess.Start(
            "run", Path.Combine(ProfileTestPaths.ShippedProfiles, "linux.json"), "--report", report,
            "--set", $"kernel={LinuxGuest.Kernel}", "--set", $"initrd={LinuxGuest.Initrd}",
            "--set", $"devices.ide.config.primary-master={disk}",
            "--set", "devices.ide.crash.everyAccesses=400", "--set", "devices.ide.restart.maxRestarts=1000",
            "--set", "devices.com1.crash.everyAccesses=5000", "--set", "devices.com1.restart.maxRestarts=1000");
        LinuxConsole console = new(splitemu);

        console.WaitFor("is up; busybox shell on the console", TestDeadlines.Minutes(5));

        console.Run("dmesg -n 1", TestDeadlines.Seconds(60)); // kernel messages stay in dmesg, out of the commands' output
        string cpuinfo = console.Run("cat /proc/cpuinfo", TestDeadlines.Seconds(60));
        Assert.Contains("GenuineIntel", cpuinfo);
        Assert.Matches(@"fpu\s*: yes", cpuinfo);
        Assert.Matches(@"flags\s*:.*\bsep\b.*\bcmov\b", cpuinfo);

        // The disk appears when libata's asynchronous probe has finished.
        string mounted = console.Run("for i in $(seq 120); do [ -b /dev/sda ] && break; sleep 1; done; mount -t ext4 /dev/sda /mnt && echo mounted-$((6*7))", TestDeadlines.Minutes(3));
        Assert.True(mounted.Contains("mounted-42", StringComparison.Ordinal),
            $"mounting the IDE disk failed:\n{mounted}\nkernel log:\n{console.Run("dmesg | tail -40", TestDeadlines.Seconds(60))}");
        string listed = console.Run("cat /mnt/notes.txt", TestDeadlines.Seconds(60));
        Assert.Contains(notes.TrimEnd('\n'), listed);

        string checksum = console.Run("md5sum /mnt/big.bin", TestDeadlines.Minutes(4));
        Assert.Contains($"{bigFileMd5}  /mnt/big.bin", checksum);

        string complaints = console.Run("dmesg | grep -iE 'ata[0-9.]*: .*(timeout|reset|exception|failed)|clocksource.*unstable' ; true", TestDeadlines.Seconds(60));
        Assert.True(complaints.Trim().Length == 0, $"the kernel complained:\n{complaints}");

        console.Type("poweroff -f\n"); // ACPI soft-off (acpi-pm): the machine ends with exit code 0
        splitemu.WaitForExit(TestDeadlines.Seconds(120));
        Assert.True(splitemu.ExitCode == 0, $"poweroff ended the machine with exit {splitemu.ExitCode}; stderr:\n{splitemu.StandardError}");
        RunReport parsed = RunReport.Read(report);
        DeviceSection ide = parsed.Devices.Single(d => d.Id == "ide");
        DeviceSection com1 = parsed.Devices.Single(d => d.Id == "com1");
        Assert.True(ide.Restarts > 0, "the IDE device process was never killed");
        Assert.True(com1.Restarts > 0, "the COM1 device process was never killed");
        Assert.All(ide.Crashes!, c => Assert.Equal(0, c.Divergences));
        Assert.All(com1.Crashes!, c => Assert.Equal(0, c.Divergences));
    }

    /// <summary>An ext4 image (mke2fs -d) holding 32 MiB of seeded noise and a text file; returns its path, the noise's MD5 and the text.</summary>
    private static (string Disk, string BigFileMd5, string Notes) BuildDisk(TempFolder folder)
    {
        string content = folder.File("content");
        Directory.CreateDirectory(content);
        byte[] big = new byte[BigFileBytes];
        new Random(20261203).NextBytes(big);
        File.WriteAllBytes(Path.Combine(content, "big.bin"), big);
        StringBuilder notes = new();
        for (int line = 1; line <= 40; line++)
        {
            notes.Append($"line {line:D2}: the quick brown fox jumps over the lazy dog {line * line}\n");
        }

        File.WriteAllText(Path.Combine(content, "notes.txt"), notes.ToString());
        string disk = folder.File("disk.ext4");
        ProcessStartInfo mke2fs = new("mke2fs", ["-q", "-F", "-t", "ext4", "-d", content, disk, "48M"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(mke2fs)!;
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"mke2fs (e2fsprogs) failed: {errors}");
        return (disk, Convert.ToHexStringLower(MD5.HashData(big)), notes.ToString());
    }
}
