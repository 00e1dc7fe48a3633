using System.Diagnostics;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Launch;

/// <summary>
/// Files a profile names that are not plain files of a usable size are refused by `splitemu validate` and
/// `splitemu run` before anything starts: exit 2, one line naming the field and the file, no stack trace.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class BadInputFileTests
{
    [Fact]
    public void DevZeroAsGuestImage_IsRefusedAtValidation_NamingFieldAndFile()
    {
        using TempFolder folder = new();
        string profile = TestMachines.WriteProfileFor(folder, "/dev/zero");

        using SplitEmuProcess validate = SplitEmuProcess.Run("validate", profile);
        using SplitEmuProcess run = SplitEmuProcess.Run("run", profile);

        foreach (SplitEmuProcess splitemu in new[] { validate, run })
        {
            Assert.Equal(ExitCodes.BadInput, splitemu.ExitCode);
            string line = Assert.Single(splitemu.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("$.load[0].file: image '/dev/zero' is a character device", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void FifoNamedInExtends_IsRefused_InsteadOfHanging()
    {
        using TempFolder folder = new();
        string fifo = folder.File("base.json");
        MakeFifo(fifo);
        string profile = folder.File("child.json");
        File.WriteAllText(profile, """{ "schemaVersion": 1, "extends": "base.json" }""");

        using SplitEmuProcess validate = SplitEmuProcess.Run("validate", profile);

        Assert.Equal(ExitCodes.BadInput, validate.ExitCode);
        string line = Assert.Single(validate.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("$.extends: profile", line, StringComparison.Ordinal);
        Assert.Contains("base.json is a FIFO (named pipe), not a regular file", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(513)]
    public void DiskImageThatIsNotWholeSectors_IsRefusedBeforeStartUp(int bytes)
    {
        using TempFolder folder = new();
        string disk = folder.File("disk.img");
        File.WriteAllBytes(disk, new byte[bytes]);
        string profile = WriteProfileWithDisk(folder, disk);

        using SplitEmuProcess validate = SplitEmuProcess.Run("validate", profile);
        using SplitEmuProcess run = SplitEmuProcess.Run("run", profile);

        foreach (SplitEmuProcess splitemu in new[] { validate, run })
        {
            Assert.Equal(ExitCodes.BadInput, splitemu.ExitCode);
            string line = Assert.Single(splitemu.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains($"$.devices[2].config.primary-master: disk image '{disk}' is {bytes} bytes; expected a positive multiple of 512 bytes", line, StringComparison.Ordinal);
        }

        Assert.Empty(run.StandardOutput);
    }

    private static string WriteProfileWithDisk(TempFolder folder, string disk)
    {
        string image = folder.File("guest.bin");
        File.WriteAllBytes(image, TestMachines.SpinForever);
        return TestMachines.WriteProfileFor(folder, image, "isolated", $$"""{ "id": "ide", "type": "piix3-ide", "config": { "primary-master": "{{disk}}" } }""");
    }

    private static void MakeFifo(string path)
    {
        using Process mkfifo = Process.Start("mkfifo", [path]) ?? throw new InvalidOperationException("could not start mkfifo");
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }
}
