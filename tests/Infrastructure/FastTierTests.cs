using System.Text.RegularExpressions;
using SplitEmu.Tests.Profiles;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>
/// The fast tier (<c>dotnet test --filter "Category!=Slow"</c>, README) must stay fast and offline: a test file
/// that starts emulator processes or fetches a guest carries <c>[Trait("Category", "Slow")]</c>.
/// </summary>
public sealed partial class FastTierTests
{
    [Fact]
    public void EveryTestFileThatStartsProcesses_IsOutsideTheFastTier()
    {
        string tests = Path.Combine(ProfileTestPaths.RepositoryRoot, "tests");
        string[] unmarked = Directory.EnumerateFiles(tests, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}Infrastructure{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => File.ReadAllText(f) is var text && StartsProcesses().IsMatch(text)
                        && (text.Contains("[Fact", StringComparison.Ordinal) || text.Contains("[Theory", StringComparison.Ordinal))
                        && !text.Contains("[Trait(\"Category\", \"Slow\")]", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(tests, f))
            .Order()
            .ToArray();

        Assert.True(unmarked.Length == 0, $"these test files start processes but are in the fast tier; mark their classes [Trait(\"Category\", \"Slow\")]: {string.Join(", ", unmarked)}");
    }

    [GeneratedRegex(@"SplitEmuProcess\.|IsolatedDeviceHarness\.|ChildProcess\.StartAsync|LinuxGuest\.|QemuReference\.|MonitoredMachine\b|DefaultMachineFixture|Process\.Start\(")]
    private static partial Regex StartsProcesses();
}
