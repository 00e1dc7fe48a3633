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
    private bool _disposed;

    /// <summary>Standard output byte for byte, for a process started with raw output (else null).</summary>
    private readonly MemoryStream? _rawStdout;
    private readonly Task? _rawStdoutCopy;

    /// <summary>Completed while standard output is being read; a pending one while reading is paused.</summary>
    private TaskCompletionSource _readingResumed = Completed();

    private SplitEmuProcess(Process process, bool rawOutput = false)
    {
        _process = process;
        _process.ErrorDataReceived += (_, e) => Append(_stderr, e.Data);
        _process.BeginErrorReadLine();
        if (rawOutput)
        {
            _rawStdout = new MemoryStream();
            _rawStdoutCopy = CopyRawOutputAsync(_process.StandardOutput.BaseStream, _rawStdout, () => Volatile.Read(ref _readingResumed).Task);
            return;
        }

        _process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
        _process.BeginOutputReadLine();
    }

    /// <summary>The launcher's standard input (a pipe), to write console input to.</summary>
    public Stream StandardInput => _process.StandardInput.BaseStream;

    /// <summary>Standard output exactly as written, for a process started by <see cref="StartWithRawOutput"/> (after <see cref="WaitForExit"/>).</summary>
    public byte[] StandardOutputBytes
    {
        get
        {
            if (_rawStdout is null || _rawStdoutCopy is null)
            {
                throw new InvalidOperationException("started without raw output: use StandardOutput");
            }

            _rawStdoutCopy.Wait(TestDeadlines.Seconds(30));
            return StandardOutputSoFar;
        }
    }

    /// <summary>Raw standard output received so far (while the process runs).</summary>
    public byte[] StandardOutputSoFar
    {
        get
        {
            MemoryStream output = _rawStdout ?? throw new InvalidOperationException("started without raw output: use StandardOutput");
            lock (output)
            {
                return output.ToArray();
            }
        }
    }

    /// <summary>Waits until the raw standard output contains <paramref name="text"/> (Latin-1); false on timeout or exit.</summary>
    public bool WaitForOutput(string text, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Encoding.Latin1.GetString(StandardOutputSoFar).Contains(text, StringComparison.Ordinal))
            {
                return true;
            }

            if (_process.HasExited)
            {
                return false;
            }

            Thread.Sleep(20);
        }

        return false;
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

    /// <summary>Whether the launcher has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Starts splitemu with <paramref name="arguments"/>.</summary>
    public static SplitEmuProcess Start(params string[] arguments) => Start(Path.Combine(AppContext.BaseDirectory, "splitemu"), arguments);

    /// <summary>
    /// Starts splitemu with <paramref name="arguments"/>, keeping its standard output byte for byte
    /// (<see cref="StandardOutputBytes"/>) instead of as lines: for binary console output.
    /// </summary>
    public static SplitEmuProcess StartWithRawOutput(params string[] arguments) =>
        Start(Path.Combine(AppContext.BaseDirectory, "splitemu"), arguments, rawOutput: true);

    /// <summary>
    /// Starts splitemu with <paramref name="arguments"/> on a pseudo-terminal of its own (util-linux <c>script</c>),
    /// as a person runs it: what is written to <see cref="StandardInput"/> is typed at that terminal, and
    /// <see cref="StandardOutputBytes"/> is what the terminal showed. The exit code is splitemu's.
    /// </summary>
    public static SplitEmuProcess StartOnTerminal(params string[] arguments) =>
        Start("/usr/bin/script", ["--quiet", "--return", "--flush", "--command", string.Join(' ', [ShellQuote(Path.Combine(AppContext.BaseDirectory, "splitemu")), .. arguments.Select(ShellQuote)]), "/dev/null"], rawOutput: true);

    /// <summary>Starts splitemu with <paramref name="arguments"/> and these variables added to its environment.</summary>
    public static SplitEmuProcess StartWithEnvironment(IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        Start(Path.Combine(AppContext.BaseDirectory, "splitemu"), arguments, environment);

    /// <summary>Starts splitemu with these variables added to its environment, keeping its standard output byte for byte.</summary>
    public static SplitEmuProcess StartWithRawOutputAndEnvironment(IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        Start(Path.Combine(AppContext.BaseDirectory, "splitemu"), arguments, environment, rawOutput: true);

    /// <summary>
    /// Starts splitemu as the leader of a session and process group of its own, as a shell starts a foreground
    /// job: <see cref="SignalProcessGroup"/> then does what the terminal does on Ctrl-C.
    /// </summary>
    public static SplitEmuProcess StartAsProcessGroupLeader(params string[] arguments) =>
        Start("/usr/bin/setsid", [Path.Combine(AppContext.BaseDirectory, "splitemu"), .. arguments]);

    private static SplitEmuProcess Start(string program, string[] arguments, IReadOnlyDictionary<string, string>? environment = null, bool rawOutput = false)
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

        return new SplitEmuProcess(Process.Start(info) ?? throw new InvalidOperationException("could not start splitemu"), rawOutput);
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
        if (_disposed)
        {
            return; // a timed-out WaitForExit disposed it already
        }

        ResumeReadingOutput();

        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    /// <summary>
    /// Stops reading standard output (raw output only), as a paused terminal or a pager does: the pipe fills and the
    /// launcher's writes wait. <see cref="ResumeReadingOutput"/> reads on.
    /// </summary>
    public void PauseReadingOutput() =>
        Interlocked.CompareExchange(ref _readingResumed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), _readingResumed);

    /// <summary>
    /// After <see cref="PauseReadingOutput"/>: waits until the standard-output pipe is full and the launcher's
    /// console writer is blocked on it (its thread sleeps in the kernel's pipe write; the pipe holding all it can
    /// says the same where /proc shows no wait channel); false if that did not happen within
    /// <paramref name="within"/> or the launcher exited.
    /// </summary>
    public bool WaitForOutputPipeFull(TimeSpan within)
    {
        Stopwatch waited = Stopwatch.StartNew();
        while (!ProcessTable.ThreadWaitsIn(_process.Id, "console writer", "pipe_write") && !PipeFill.IsFull(_process.StandardOutput.BaseStream))
        {
            if (_process.HasExited || waited.Elapsed > within)
            {
                return false;
            }

            Thread.Sleep(50);
        }

        return true;
    }

    /// <summary>Reads standard output again after <see cref="PauseReadingOutput"/>.</summary>
    public void ResumeReadingOutput() => Volatile.Read(ref _readingResumed).TrySetResult();

    private static TaskCompletionSource Completed()
    {
        TaskCompletionSource done = new();
        done.SetResult();
        return done;
    }

    private static async Task CopyRawOutputAsync(Stream from, MemoryStream into, Func<Task> readingResumed)
    {
        byte[] buffer = new byte[4096];
        int read;
        while (true)
        {
            await readingResumed().ConfigureAwait(false);
            if ((read = await from.ReadAsync(buffer).ConfigureAwait(false)) == 0)
            {
                break;
            }

            lock (into)
            {
                into.Write(buffer, 0, read);
            }
        }
    }

    private static string ShellQuote(string argument) => "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

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
