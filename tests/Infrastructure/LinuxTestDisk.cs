using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>The ext4 disk the Linux guest tests mount: seeded noise to checksum and a text file to read back.</summary>
public static class LinuxTestDisk
{
    /// <summary>
    /// Builds an ext4 image (mke2fs -d) in <paramref name="folder"/> holding <c>big.bin</c>, <paramref name="bigFileBytes"/>
    /// of seeded noise, and <c>notes.txt</c>; returns its path, the noise's MD5 and the text.
    /// </summary>
    public static (string Disk, string BigFileMd5, string Notes) Build(TempFolder folder, int bigFileBytes)
    {
        string content = folder.File("content");
        Directory.CreateDirectory(content);
        byte[] big = new byte[bigFileBytes];
        new Random(20261203).NextBytes(big);
        File.WriteAllBytes(Path.Combine(content, "big.bin"), big);
        StringBuilder notes = new();
        for (int line = 1; line <= 40; line++)
        {
            notes.Append($"line {line:D2}: the quick brown fox jumps over the lazy dog {line * line}\n");
        }

        File.WriteAllText(Path.Combine(content, "notes.txt"), notes.ToString());
        string disk = folder.File("disk.ext4");
        int diskMiB = (bigFileBytes >> 20) + 16; // room for the file system's own blocks
        ProcessStartInfo mke2fs = new("mke2fs", ["-q", "-F", "-t", "ext4", "-d", content, disk, $"{diskMiB}M"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(mke2fs)!;
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"mke2fs (e2fsprogs) failed: {errors}");
        return (disk, Convert.ToHexStringLower(MD5.HashData(big)), notes.ToString());
    }
}
