using System.Text;

namespace SplitEmu.Launch.Supervision;

/// <summary>
/// The launcher's own messages (stderr) where they share a screen or file with the guest's console (stdout):
/// a message that would start in the middle of the guest's line first ends that line on stderr, so the two never
/// mix on one line. The guest's byte stream on stdout is never touched.
/// </summary>
public sealed class LineBoundaryLog(TextWriter inner, Func<bool> consoleMidLine) : TextWriter
{
    /// <summary>True while this log is inside a line of its own (then the console cannot be mid-line in front of it).</summary>
    private bool _midLine;

    /// <inheritdoc/>
    public override Encoding Encoding => inner.Encoding;

    /// <summary>
    /// <paramref name="log"/> wrapped when standard output and standard error reach the same terminal, pipe or file
    /// (what a person sees as one stream); <paramref name="log"/> itself otherwise.
    /// </summary>
    public static TextWriter Around(TextWriter log, Func<bool> consoleMidLine) =>
        StdoutAndStderrShareATarget() ? new LineBoundaryLog(log, consoleMidLine) : log;

    /// <inheritdoc/>
    public override void Write(char value)
    {
        lock (inner)
        {
            StartLine();
            inner.Write(value);
            _midLine = value != '\n';
        }
    }

    /// <inheritdoc/>
    public override void Write(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        lock (inner)
        {
            StartLine();
            inner.Write(value);
            _midLine = value[^1] != '\n';
        }
    }

    /// <inheritdoc/>
    public override void WriteLine(string? value)
    {
        lock (inner)
        {
            StartLine();
            inner.WriteLine(value);
            _midLine = false;
        }
    }

    /// <inheritdoc/>
    public override void Flush() => inner.Flush();

    private void StartLine()
    {
        if (!_midLine && consoleMidLine())
        {
            inner.WriteLine();
        }
    }

    private static bool StdoutAndStderrShareATarget()
    {
        try
        {
            FileSystemInfo? stdout = new FileInfo("/proc/self/fd/1").ResolveLinkTarget(returnFinalTarget: false);
            FileSystemInfo? stderr = new FileInfo("/proc/self/fd/2").ResolveLinkTarget(returnFinalTarget: false);
            return stdout is not null && stderr is not null && stdout.FullName == stderr.FullName;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
