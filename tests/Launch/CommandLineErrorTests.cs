using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Launch;

/// <summary>A mistyped command line is bad input: exit 2 and one line saying what is wrong, nothing started.</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class CommandLineErrorTests
{
    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("-3")]
    public void TimeoutThatIsNotAPositiveNumber_IsBadInput_AndSaysWhatIsExpected(string value)
    {
        using SplitEmuProcess run = SplitEmuProcess.Run("run", "--timeout", value);

        Assert.Equal(ExitCodes.BadInput, run.ExitCode);
        Assert.Contains($"--timeout '{value}': expected a positive number of seconds", run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", run.StandardError, StringComparison.Ordinal); // no .NET type names
        Assert.Empty(run.StandardOutput); // no machine ran
    }

    [Fact]
    public void UnknownOption_IsCalledAnUnknownOption_NotAMissingProfile()
    {
        using SplitEmuProcess run = SplitEmuProcess.Run("run", "--bogus");

        Assert.Equal(ExitCodes.BadInput, run.ExitCode);
        Assert.Contains("unknown option '--bogus'", run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("profile", run.StandardError.Split('\n')[0], StringComparison.Ordinal);
        Assert.Empty(run.StandardOutput);
    }
}
