using System.Text.RegularExpressions;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Bench;

/// <summary>`bench sandbox` starts device processes both ways and prints both rows and the difference (no timing asserts).</summary>
[Trait("Category", "Slow")] // starts processes: not in the fast tier
public sealed partial class BenchSandboxSmokeTests
{
    [Fact]
    public void BenchSandbox_PrintsBothKindsOfStart_AndWhatTheSandboxAdds()
    {
        using SplitEmuProcess run = SplitEmuProcess.Run("bench", "sandbox", "--runs", "2");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("2 starts of each kind", run.StandardOutput, StringComparison.Ordinal);
        Assert.Matches(Row("sandbox off"), run.StandardOutput);
        Assert.Matches(Row("sandbox strict"), run.StandardOutput);
        Assert.Matches(AddedLine(), run.StandardOutput);
    }

    private static Regex Row(string name) => new($@"\n  {name}( +\d+\.\d\d ms){{4}}\n");

    [GeneratedRegex(@"the sandbox adds -?\d+\.\d\d ms to a start and -?\d+\.\d\d ms to an attach \(p50\): -?\d+\.\d\d ms per device process, \d+\.\d\dx")]
    private static partial Regex AddedLine();
}
