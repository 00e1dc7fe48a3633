using System.Diagnostics;
using System.Text;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>
/// Runs the real `splitemu` built next to the tests, bounded in time. Whatever happens, the launcher and
/// every process it started are killed when the test is done with it.
/// </summary>
public sealed class SplitEmuProcess : IDisposable
{
    /// <summary>How long a machine of the test suite may run before the test kills it and fails.</summary>
    public static readonly TimeSpan DefaultTimeout = TestDeadlines.Seconds(60);

    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Process _process;

    private SplitEmuProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(_stderr, e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The launcher's process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Standard output so far (lines joined with \n, each line ended by \n).</summary>
    public string StandardOutput
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <summary>Standard error so far.</summary>
    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Exit code (after <see cref="WaitForExit"/>).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Starts splitemu with <paramref name="arguments"/>.</summary>
    public static SplitEmuProcess Start(params string[] arguments) => Start(Path.Combine(AppContext.BaseDirectory, "splitemu"), arguments);

    /// <summary>Starts splitemu with <paramref name="arguments"/> and these variables added to its environment.</summary>
    public static SplitEmuProcess StartWithEnvironment(IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        Start(Path.Combine(AppContext.BaseDirectory, "splitemu"), arguments, environment);

    /// <summary>
    /// Starts splitemu as the leader of a session and process group of its own, as a shell starts a foreground
    /// job: <see cref="SignalProcessGroup"/> then does what the terminal does on Ctrl-C.
    /// </summary>
    public static SplitEmuProcess StartAsProcessGroupLeader(params string[] arguments) =>
        Start("/usr/bin/setsid", [Path.Combine(AppContext.BaseDirectory, "splitemu"), .. arguments]);

    private static SplitEmuProcess Start(string program, string[] arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        ProcessStartInfo info = new(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        return new SplitEmuProcess(Process.Start(info) ?? throw new InvalidOperationException("could not start splitemu"));
    }

    /// <summary>Runs splitemu to its end (at most <see cref="DefaultTimeout"/>).</summary>
    public static SplitEmuProcess Run(params string[] arguments)
    {
        SplitEmuProcess process = Start(arguments);
        process.WaitForExit(DefaultTimeout);
        return process;
    }

    /// <summary>Waits for the launcher to exit; on timeout kills everything and fails the test.</summary>
    public void WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            Dispose();
            Assert.Fail($"splitemu did not exit within {timeout.TotalSeconds} s. stderr:\n{StandardError}");
        }

        _process.WaitForExit(); // drain the output readers
    }

    /// <summary>Sends a POSIX signal to the launcher.</summary>
    public void Signal(int signal) => ProcessTable.Signal(_process.Id, signal);

    /// <summary>
    /// Sends a POSIX signal to every process in the launcher's process group (for a launcher started with
    /// <see cref="StartAsProcessGroupLeader"/>), as a terminal sends Ctrl-C's SIGINT to its foreground group.
    /// </summary>
    public void SignalProcessGroup(int signal) => ProcessTable.Signal(-_process.Id, signal);

    /// <inheritdoc/>
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder into, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (into)
        {
            into.Append(line).Append('\n');
        }
    }
}
