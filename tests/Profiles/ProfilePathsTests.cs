using SplitEmu.Launch.Profiles;

namespace SplitEmu.Tests.Profiles;

/// <summary>The one rule for paths in profiles: ${splitemu}/, ${linux-guest}/, absolute, or relative to the declaring file's folder.</summary>
public sealed class ProfilePathsTests
{
    private const string Declaring = "/profiles/here";
    private const string Splitemu = "/opt/splitemu";

    [Theory]
    [InlineData("${splitemu}/guests/hello.bin", "/opt/splitemu/guests/hello.bin")]
    [InlineData("${splitemu}", "/opt/splitemu")]
    [InlineData("/abs/image.bin", "/abs/image.bin")]
    [InlineData("image.bin", "/profiles/here/image.bin")]
    [InlineData("../shared/image.bin", "/profiles/shared/image.bin")]
    public void ValidPathResolvesAsTheRuleSays(string written, string expected)
    {
        string? resolved = ProfilePaths.Resolve(written, Declaring, Splitemu, out string problem);

        Assert.Equal((expected, ""), (resolved, problem));
    }

    [Theory]
    [InlineData("", "the path is empty; expected a file path")]
    [InlineData("${splitemu}guests/hello.bin", "'${splitemu}guests/hello.bin' has text right after ${splitemu}; expected ${splitemu}/path")]
    [InlineData("${home}/x.bin", "'${home}/x.bin' uses an unknown variable; expected no variable or a path starting with ${splitemu}/ or ${linux-guest}/")]
    [InlineData("${splitemu}/${arch}/x.bin", "'${splitemu}/${arch}/x.bin' uses an unknown variable; expected no variable or a path starting with ${splitemu}/ or ${linux-guest}/")]
    [InlineData("${linux-guest}kernel", "'${linux-guest}kernel' has text right after ${linux-guest}; expected ${linux-guest}/path")]
    public void InvalidPathIsRefusedWithAReason(string written, string expectedProblem)
    {
        string? resolved = ProfilePaths.Resolve(written, Declaring, Splitemu, out string problem);

        Assert.Equal((null, expectedProblem), (resolved, problem));
    }

    [Fact]
    public void LinuxGuestVariable_IsTheFetchScriptsCacheFolder()
    {
        string? resolved = ProfilePaths.Resolve("${linux-guest}/kernel/bzImage", Declaring, Splitemu, out string problem);

        Assert.Equal((Path.Combine(ProfilePaths.LinuxGuestFolder, "kernel", "bzImage"), ""), (resolved, problem));
    }

    [Theory]
    [InlineData("bad\0name.bin")]
    [InlineData("${splitemu}/bad\0name.bin")]
    public void PathWithANulCharacterIsRefusedNotThrown(string written)
    {
        string? resolved = ProfilePaths.Resolve(written, Declaring, Splitemu, out string problem);

        Assert.Null(resolved);
        Assert.StartsWith($"'{written}' is not a valid path", problem);
    }

    [Fact]
    public void FileBelowTheWorkingDirectoryIsShownRelativeToIt()
    {
        Assert.Equal("profiles/x.json", ProfilePaths.Display("/repo/profiles/x.json", "/repo"));
    }

    [Fact]
    public void FileOutsideTheWorkingDirectoryIsShownInFull()
    {
        Assert.Equal("/elsewhere/x.json", ProfilePaths.Display("/elsewhere/x.json", "/repo"));
    }
}
