using SplitEmu.Tests.Infrastructure;
using SplitEmu.Tests.Profiles;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// Debian's own i386 686 kernel, booted directly by the shipped profile <c>profiles/linux.json</c> through the
/// real launcher and device processes. The kernel's decompressor reads the command line from boot_params and
/// speaks on COM1 before anything else runs: that it says so proves the handover (boot_params, cmd_line_ptr,
/// flat segments, ESI) and the console path.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class LinuxBootTests
{
    private static readonly string s_profile = Path.Combine(ProfileTestPaths.ShippedProfiles, "linux.json");

    [Theory]
    [InlineData("linux.json")]
    [InlineData("linux-smp.json")]
    public void ShippedLinuxProfile_Validates_OnceTheGuestIsFetched(string file)
    {
        _ = LinuxGuest.Folder; // fetches the guest the profiles name ${linux-guest}/

        using SplitEmuProcess validate = SplitEmuProcess.Run("validate", Path.Combine(ProfileTestPaths.ShippedProfiles, file));

        Assert.True(validate.ExitCode == 0, validate.StandardError);
    }

    [Fact]
    public void DebianKernel_ReadsItsCommandLine_AndSpeaksOnCom1()
    {
        _ = LinuxGuest.Folder;
        using SplitEmuProcess splitemu = SplitEmuProcess.Start("run", s_profile, "--set", $"kernel={LinuxGuest.Kernel}", "--set", $"initrd={LinuxGuest.Initrd}");

        bool spoke = ProcessTable.WaitUntil(() => splitemu.StandardOutput.Contains("KASLR disabled: 'nokaslr' on cmdline.", StringComparison.Ordinal), TestDeadlines.Seconds(60));
        splitemu.Signal(15); // SIGTERM: a clean stop (SIGINT would be ignored when the suite runs as a background job)
        splitemu.WaitForExit(TestDeadlines.Seconds(30));

        Assert.True(spoke, $"the kernel's decompressor did not speak on COM1. stdout:\n{splitemu.StandardOutput}\nstderr:\n{splitemu.StandardError}");
        Assert.Equal(130, splitemu.ExitCode);
    }
}
