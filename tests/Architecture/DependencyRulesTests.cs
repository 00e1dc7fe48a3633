using System.Text.RegularExpressions;
using SplitEmu.Tests.Profiles;

namespace SplitEmu.Tests.Architecture;

/// <summary>
/// Which room of the repository may use which (README's layout; issue 20): each rule names a folder and the
/// namespaces its code must not reach, and fails with the file and line of every reference that does, whether
/// through a using, a qualified name or a name relative to a parent namespace. A reference that a rule forbids
/// but the code still has today is a listed debt, with what removes it; a debt that is paid must leave the list.
/// </summary>
public sealed partial class DependencyRulesTests
{
    private sealed record Rule(string Name, string Folder, string[] Forbidden, string Why);

    private static readonly Rule[] s_rules =
    [
        new("shared uses no process", "shared", ["SplitEmu.CpuHost", "SplitEmu.DeviceHost", "SplitEmu.Launch"],
            "every process uses shared/; it uses none of them"),
        new("ring code uses no profile model", "shared/Transport", ["SplitEmu.Shared.Profiles", "SplitEmu.Shared.Rpc"],
            "the data plane carries bytes; the policy a profile chose reaches it as a value"),
        new("the device contract names no model and no host", "device-host/Sdk", ["SplitEmu.DeviceHost.Devices", "SplitEmu.DeviceHost.Common", "SplitEmu.DeviceHost.Hosting", "SplitEmu.CpuHost"],
            "a device author sees IDevice and IDeviceContext, nothing of where the device runs"),
        new("device models see the machine only through their context", "device-host/Devices", ["SplitEmu.DeviceHost.Common", "SplitEmu.DeviceHost.Hosting", "SplitEmu.CpuHost"],
            "the same model runs inline and isolated, so it may know neither host"),
        new("the device host uses no CPU host and no launcher", "device-host", ["SplitEmu.CpuHost", "SplitEmu.Launch"],
            "a device process is untrusted and knows only the ring and its control contract"),
        new("the CPU host uses no device hosting", "cpu-host", ["SplitEmu.DeviceHost.Hosting"],
            "inline devices are hosted through device-host/Common and the SDK; the device process's server, timers and sandbox are not the CPU process's"),
        new("the CPU host uses no launcher", "cpu-host", ["SplitEmu.Launch"],
            "the launcher drives the CPU process, never the other way round"),
        new("the platform does not reach back into the machine", "cpu-host/Platform", ["SplitEmu.CpuHost.Machine"],
            "the machine composes the platform; the platform reaches it through IPlatformHost"),
        new("the launcher uses no CPU internals", "launch", ["SplitEmu.CpuHost.Cpu", "SplitEmu.CpuHost.Memory", "SplitEmu.CpuHost.Dispatch", "SplitEmu.CpuHost.Machine", "SplitEmu.CpuHost.Platform"],
            "the launcher drives the CPU process through its control contract"),
    ];

    /// <summary>References a rule forbids that the code has today, each with what removes it.</summary>
    private static readonly (string Rule, string File, string Until)[] s_debts =
    [
        ("the launcher uses no CPU internals", "launch/Bench/DispatchBench.cs",
            "bench dispatch times the CPU host's map and bus in the launcher's own process; it moves into the CPU host with the library split (issue 15)"),
        ("the launcher uses no CPU internals", "launch/Commands/BenchCommand.cs",
            "bench cpu runs the interpreter and the translator in the launcher's own process; as above"),
    ];

    public static TheoryData<string> RuleNames() => [.. s_rules.Select(r => r.Name)];

    [Theory]
    [MemberData(nameof(RuleNames))]
    public void NoFileBreaksTheRule_ButItsListedDebts(string name)
    {
        Rule rule = s_rules.Single(r => r.Name == name);
        HashSet<string> debts = [.. s_debts.Where(d => d.Rule == name).Select(d => d.File)];

        string[] broken = [.. Violations(rule).Where(v => !debts.Contains(v.File)).Select(v => $"{v.File}:{v.Line}: {v.Text}")];

        Assert.True(broken.Length == 0, $"'{rule.Name}' ({rule.Why}) is broken by:\n{string.Join('\n', broken)}");
    }

    [Fact]
    public void EveryListedDebt_IsStillOwed()
    {
        string[] paid = [.. s_debts
            .Where(d => !Violations(s_rules.Single(r => r.Name == d.Rule)).Any(v => v.File == d.File))
            .Select(d => $"{d.File} ({d.Rule})")];

        Assert.True(paid.Length == 0, $"these debts are paid: take them off the list:\n{string.Join('\n', paid)}");
    }

    [Fact]
    public void TheScanner_FindsUsingsQualifiedAndRelativeNames_ButNotComments()
    {
        Rule rule = new("test", "x", ["SplitEmu.CpuHost.Machine"], "");
        string code = """
            using SplitEmu.CpuHost.Machine;
            namespace SplitEmu.CpuHost.Platform;
            // Machine.VirtualMachine in a comment is prose
            class A { Machine.VirtualMachine? _m; SplitEmu.CpuHost.Machine.InterruptLines? _l; int x = context.Machine.Ram; }
            """;

        int[] lines = [.. ReferencesIn(rule, code).Select(r => r.Line)];

        Assert.Equal([1, 4], lines);
    }

    private static IEnumerable<(string File, int Line, string Text)> Violations(Rule rule)
    {
        string root = ProfileTestPaths.RepositoryRoot;
        string folder = Path.Combine(root, rule.Folder);
        foreach (string file in Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (relative.Contains("/obj/", StringComparison.Ordinal) || relative.Contains("/bin/", StringComparison.Ordinal))
            {
                continue;
            }

            foreach ((int line, string text) in ReferencesIn(rule, File.ReadAllText(file)))
            {
                yield return (relative, line, text);
            }
        }
    }

    /// <summary>Lines of <paramref name="code"/> that reach a namespace <paramref name="rule"/> forbids.</summary>
    private static IEnumerable<(int Line, string Text)> ReferencesIn(Rule rule, string code)
    {
        string own = FileNamespace().Match(code) is { Success: true } m ? m.Groups[1].Value : "";
        string[] forbidden = [.. rule.Forbidden.Where(f => !IsWithin(own, f))];
        string[] lines = code.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = StripComment(lines[i]);
            bool qualified = QualifiedName().Matches(line).Any(q => forbidden.Any(f => IsWithin(q.Value, f)));
            bool relative = forbidden.Any(f => RelativeNames(own, f).Any(r => Regex.IsMatch(line, $@"(?<![\w.]){Regex.Escape(r)}\.[A-Z]")));
            if (qualified || relative)
            {
                yield return (i + 1, lines[i].Trim());
            }
        }
    }

    /// <summary>The shorter names by which code in namespace <paramref name="own"/> can reach <paramref name="target"/>.</summary>
    private static IEnumerable<string> RelativeNames(string own, string target)
    {
        string[] parts = target.Split('.');
        for (int k = 1; k < parts.Length; k++)
        {
            string parent = string.Join('.', parts[..k]);
            if (IsWithin(own, parent))
            {
                yield return string.Join('.', parts[k..]);
            }
        }
    }

    /// <summary>Whether <paramref name="name"/> is namespace <paramref name="space"/> or inside it.</summary>
    private static bool IsWithin(string name, string space) =>
        name == space || name.StartsWith(space + ".", StringComparison.Ordinal);

    private static string StripComment(string line)
    {
        int comment = line.IndexOf("//", StringComparison.Ordinal);
        return comment < 0 ? line : line[..comment];
    }

    [GeneratedRegex(@"^namespace ([\w.]+);", RegexOptions.Multiline)]
    private static partial Regex FileNamespace();

    [GeneratedRegex(@"\bSplitEmu(\.[A-Z]\w*)+")]
    private static partial Regex QualifiedName();
}
