using SplitEmu.Launch.Profiles;

namespace SplitEmu.Tests.Profiles;

/// <summary>How errors are printed: compiler-style, leaving out the parts that are unknown.</summary>
public sealed class ProfileErrorTests
{
    [Fact]
    public void ErrorWithAPositionPrintsFileLineColumnPathAndMessage()
    {
        var error = new ProfileError("profiles/x.json", 12, 7, "$.devices[1].irq", "IRQ 4 is already used by device 'com1'; expected a free line 0-15");

        Assert.Equal("profiles/x.json:12:7: $.devices[1].irq: IRQ 4 is already used by device 'com1'; expected a free line 0-15", error.ToString());
    }

    [Fact]
    public void ErrorWithoutAPositionLeavesOutLineAndColumn()
    {
        var error = new ProfileError("--set devices.com9.irq=5", 0, 0, "$.devices", "no entry with id 'com9'");

        Assert.Equal("--set devices.com9.irq=5: $.devices: no entry with id 'com9'", error.ToString());
    }

    [Fact]
    public void ErrorAboutAWholeFileLeavesOutThePath()
    {
        var error = new ProfileError("x.json", 0, 0, "", "the file is empty; expected a JSON object");

        Assert.Equal("x.json: the file is empty; expected a JSON object", error.ToString());
    }
}
