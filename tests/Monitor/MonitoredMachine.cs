using System.Text.RegularExpressions;
using SplitEmu.Launch.Monitor;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Monitor;

/// <summary>
/// A real `splitemu run` of a guest that spins forever (isolated com1, inline exit), under a name no other
/// test uses, with its monitor socket up. Disposing kills the launcher and everything it started.
/// </summary>
public sealed partial class MonitoredMachine : IDisposable
{
    /// <summary>Bound for the machine's processes and its monitor socket to come up (the test machine is loaded).</summary>
    private static readonly TimeSpan s_startTimeout = TestDeadlines.Seconds(45);

    private readonly TempFolder _folder = new();

    /// <summary>
    /// Starts the machine, named <paramref name="name"/> (default: a fresh unique name), and waits for its monitor
    /// socket (NAME-PID.sock, PID being the launcher's). With
    /// <paramref name="processGroupLeader"/>, the launcher leads a process group of its own, as a shell's
    /// foreground job does (see <see cref="SplitEmuProcess.SignalProcessGroup"/>); <paramref name="environment"/>
    /// adds variables to the launcher's environment; <paramref name="extraDevices"/> (JSON objects) join com1 and exit,
    /// and <paramref name="settings"/> are passed as <c>--set</c> overrides.
    /// </summary>
    public MonitoredMachine(string? name = null, bool processGroupLeader = false, IReadOnlyDictionary<string, string>? environment = null, byte[]? guest = null,
        string[]? extraDevices = null, string[]? settings = null)
    {
        Name = name ?? UniqueName();
        ReportPath = _folder.File("report.json");
        string imagePath = _folder.File("guest.bin");
        File.WriteAllBytes(imagePath, guest ?? TestMachines.SpinForever);
        string profile = TestMachines.WriteProfileFor(_folder, imagePath, "isolated", extraDevices ?? []);
        string[] arguments = ["run", profile, "--set", $"name={Name}", "--report", ReportPath, .. (settings ?? []).SelectMany(s => new[] { "--set", s })];
        Run = processGroupLeader ? SplitEmuProcess.StartAsProcessGroupLeader(arguments)
            : environment is not null ? SplitEmuProcess.StartWithEnvironment(environment, arguments)
            : SplitEmuProcess.Start(arguments);
        SocketPath = MonitorPaths.SocketFor(Name, Run.ProcessId);
        if (!ProcessTable.WaitUntil(() => File.Exists(SocketPath) || !ProcessTable.IsAlive(Run.ProcessId), s_startTimeout) || !File.Exists(SocketPath))
        {
            string stderr = Run.StandardError;
            Dispose();
            Assert.Fail($"machine '{Name}' has no monitor socket at {SocketPath} after {s_startTimeout.TotalSeconds} s. stderr:\n{stderr}");
        }
    }

    /// <summary>The machine's name (unique unless the test chose it), by which `splitemu monitor` finds it when no other run has it.</summary>
    public string Name { get; }

    /// <summary>What `splitemu monitor` calls this run whatever else runs: NAME-PID.</summary>
    public string MonitorName => MonitorPaths.NameOf(SocketPath);

    /// <summary>Where its monitor listens.</summary>
    public string SocketPath { get; }

    /// <summary>Where its report goes when it ends.</summary>
    public string ReportPath { get; }

    /// <summary>The launcher.</summary>
    public SplitEmuProcess Run { get; }

    /// <summary>Runs `splitemu monitor NAME --exec SCRIPT` to its end (by machine name: the tests' names are unique).</summary>
    public SplitEmuProcess Monitor(string script) => SplitEmuProcess.Run("monitor", Name, "--exec", script);

    /// <summary>A machine name no other test uses.</summary>
    public static string UniqueName() => "mon-" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>Runs a script that must succeed; returns its output.</summary>
    public string MonitorOk(string script)
    {
        using SplitEmuProcess monitor = Monitor(script);
        Assert.True(monitor.ExitCode == 0, $"monitor '{script}' exited {monitor.ExitCode}. stderr:\n{monitor.StandardError}\nstdout:\n{monitor.StandardOutput}");
        return monitor.StandardOutput;
    }

    /// <summary>The instruction counts of the `info stats` outputs in <paramref name="output"/>, in order.</summary>
    public static long[] Instructions(string output) =>
        InstructionsLine().Matches(output).Select(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>The row of <paramref name="device"/> in an `info devices` output, split into columns.</summary>
    public static string[] DeviceRow(string output, string device) =>
        output.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Single(c => c.Length == 8 && c[0] == device && (c[2] is "inline" or "isolated" || c[2].StartsWith("group", StringComparison.Ordinal)));

    /// <inheritdoc/>
    public void Dispose()
    {
        Run.Dispose();
        _folder.Dispose();
    }

    [GeneratedRegex(@"^instructions:\s+(\d+)$", RegexOptions.Multiline)]
    private static partial Regex InstructionsLine();
}
