using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Infrastructure;
using SplitEmu.Tests.Profiles;
using Xunit.Abstractions;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// Debian's own 686 kernel on several vCPUs: the shipped <c>profiles/linux-smp.json</c> (linux.json with an I/O
/// APIC) with <c>cpu.count</c> 2 or 4. The kernel reads the MADT, starts every application processor with INIT and start-up IPIs,
/// routes the ISA interrupts through the I/O APIC and runs its timers on the local APICs; then two readers on
/// different CPUs checksum a file on the IDE disk at once while the IDE controller's device process is killed
/// every few hundred accesses (and COM1's every few thousand), and both checksums are exact. The 2-vCPU machine
/// reboots first, so all of that happens after a reset of a running multiprocessor.
/// </summary>
[Trait("Category", "Slow")] // boots Linux in real processes
public sealed class LinuxSmpTests(ITestOutputHelper output)
{
    private const int BigFileBytes = 8 << 20;

    [Theory]
    [InlineData(2, true)]
    [InlineData(4, false)]
    public void EveryVcpuComesOnline_AndParallelChecksumsAreExact_WhileIdeIsKilled(int cpus, bool rebootFirst)
    {
        _ = LinuxGuest.Folder;
        using TempFolder folder = new();
        (string disk, string md5, _) = LinuxTestDisk.Build(folder, BigFileBytes);
        string report = folder.File("report.json");
        string profile = Path.Combine(ProfileTestPaths.ShippedProfiles, "linux-smp.json");
        using SplitEmuProcess splitemu = SplitEmuProcess.Start(
            "run", profile, "--report", report, "--set", $"cpu.count={cpus}",
            "--set", $"kernel={LinuxGuest.Kernel}", "--set", $"initrd={LinuxGuest.Initrd}",
            "--set", $"devices.ide.config.primary-master={disk}",
            "--set", "devices.ide.crash.everyAccesses=400", "--set", "devices.ide.restart.maxRestarts=1000",
            "--set", "devices.com1.crash.everyAccesses=5000", "--set", "devices.com1.restart.maxRestarts=1000");
        LinuxConsole console = new(splitemu);
        console.WaitFor("is up; busybox shell on the console", TestDeadlines.Minutes(5));
        if (rebootFirst)
        {
            // A reset with every vCPU running: the APs are held, every APIC and CPU goes back to power-on, the loader
            // writes its tables again, and the second boot must start the APs as the first did.
            console.Type("reboot -f\n");
            console.WaitFor("is up; busybox shell on the console", TestDeadlines.Minutes(5), times: 2);
        }

        string online = console.Run("cat /sys/devices/system/cpu/online; grep -c ^processor /proc/cpuinfo", TestDeadlines.Seconds(60));
        Assert.Contains($"0-{cpus - 1}", online);
        Assert.Contains($"\n{cpus}", online.ReplaceLineEndings("\n"));
        string interrupts = console.Run("grep -E 'IO-APIC|LOC' /proc/interrupts", TestDeadlines.Seconds(60));
        Assert.Contains("IO-APIC", interrupts); // ISA lines through the I/O APIC
        Assert.Contains("Local timer interrupts", interrupts); // and the local APIC timers

        string mounted = console.Run("mount -t ext4 /dev/sda /mnt && echo mounted-$((6*7))", TestDeadlines.Minutes(3));
        Assert.True(mounted.Contains("mounted-42", StringComparison.Ordinal), $"mounting the IDE disk failed:\n{mounted}");
        // Two readers on the first and the last CPU (taskset), so the disk's accesses come from two vCPUs at once.
        string sums = console.Run($"taskset 1 md5sum /mnt/big.bin > /tmp/a & taskset {1 << (cpus - 1)} md5sum /mnt/big.bin > /tmp/b; wait; cat /tmp/a /tmp/b", TestDeadlines.Minutes(4));
        Assert.Equal(2, sums.Split($"{md5}  /mnt/big.bin").Length - 1);

        console.Type("poweroff -f\n");
        splitemu.WaitForExit(TestDeadlines.Seconds(120));
        Assert.True(splitemu.ExitCode == 0, $"poweroff ended the machine with exit {splitemu.ExitCode}; stderr:\n{splitemu.StandardError}");
        RunReport parsed = RunReport.Read(report);
        DeviceSection ide = parsed.Devices.Single(d => d.Id == "ide");
        DeviceSection com1 = parsed.Devices.Single(d => d.Id == "com1");
        Assert.True(ide.Restarts > 0, "the IDE device process was never killed");
        Assert.True(com1.Restarts > 0, "the COM1 device process was never killed");
        Assert.All(ide.Crashes!, c => Assert.Equal(0, c.Divergences));
        Assert.All(com1.Crashes!, c => Assert.Equal(0, c.Divergences)); // printk from every CPU, replayed in the order sent
        output.WriteLine($"{cpus} vCPUs: {ide.Restarts} IDE and {com1.Restarts} COM1 restarts, {parsed.Instructions:N0} guest instructions in {parsed.WallTimeMs / 1000:F1} s");
    }
}
