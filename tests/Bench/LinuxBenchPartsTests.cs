using System.Text;
using SplitEmu.Launch.Bench;

namespace SplitEmu.Tests.Bench;

/// <summary>
/// The parts of `bench linux` that decide what it measures: the prompt is found however the console's bytes are
/// cut, only after the initrd's "is up" line (a "/ # " in the kernel's log is not the shell), and QEMU boots the
/// same files on a CPU with the features ours reports.
/// </summary>
public sealed class LinuxBenchPartsTests
{
    private const string Console = "[    5.1] Run /init as init process\r\nSplitEmu: Linux 6.1.0 is up; busybox shell on the console\r\n\r\nBusyBox v1.35.0 built-in shell (ash)\r\n/ # ";

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Prompt_IsFound_WhateverTheWritesLookLike(int chunk)
    {
        using ShellPromptWatch watch = new();
        byte[] bytes = Encoding.ASCII.GetBytes(Console);
        for (int at = 0; at < bytes.Length; at += chunk)
        {
            Assert.Null(watch.PromptAfter);
            watch.Write(bytes, at, Math.Min(chunk, bytes.Length - at));
        }

        Assert.NotNull(watch.PromptAfter);
        Assert.True(watch.Prompted.IsCancellationRequested);
    }

    [Fact]
    public void APromptBeforeTheShellStarts_IsNotTheShell()
    {
        using ShellPromptWatch watch = new();
        byte[] early = Encoding.ASCII.GetBytes("kernel says / # early\r\n");

        watch.Write(early, 0, early.Length);

        Assert.Null(watch.PromptAfter);
        Assert.False(watch.Prompted.IsCancellationRequested);
    }

    [Fact]
    public void Qemu_BootsTheSameFiles_OnAPentiumIIWithoutWhatOursLacks()
    {
        IReadOnlyList<string> arguments = QemuPeer.LinuxArguments("/k/bzImage", "/k/initrd.cpio", "console=ttyS0 nokaslr", "/d/disk.ext4", 256);

        Assert.Equal("/k/bzImage", arguments[arguments.ToList().IndexOf("-kernel") + 1]);
        Assert.Equal("/k/initrd.cpio", arguments[arguments.ToList().IndexOf("-initrd") + 1]);
        Assert.Equal("console=ttyS0 nokaslr", arguments[arguments.ToList().IndexOf("-append") + 1]);
        Assert.Contains("file=/d/disk.ext4,format=raw,if=ide", arguments);
        string cpu = arguments[arguments.ToList().IndexOf("-cpu") + 1];
        Assert.StartsWith("pentium2,", cpu, StringComparison.Ordinal);
        Assert.Contains("-nodefaults", arguments); // no CD-ROM for the kernel to probe, no parallel port
        foreach (string lacking in (string[])["-apic", "-mmx", "-pae", "-mtrr", "-pat", "-vme", "-de", "-mce", "-mca", "-pse36", "-hypervisor"])
        {
            Assert.Contains(lacking, cpu.Split(','));
        }
    }
}
