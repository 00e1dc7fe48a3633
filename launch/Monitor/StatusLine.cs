using System.Globalization;
using System.Text;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Monitor;

/// <summary>
/// The live status line of `splitemu run` on a terminal: instructions per second, accesses per second per
/// device and restarts, redrawn in place on stderr about 4 times a second. Console output and log lines go
/// through <see cref="WrapConsole"/> and <see cref="WrapLog"/>, which erase the line before they write, so
/// the status line never mixes with them. Only made when stderr is a terminal (<see cref="ForTerminal"/>).
/// </summary>
public sealed class StatusLine : IAsyncDisposable
{
    /// <summary>Time between redraws.</summary>
    private static readonly TimeSpan s_period = TimeSpan.FromMilliseconds(250);

    /// <summary>Erase the current terminal line: carriage return, then ANSI "erase to end of line".</summary>
    private const string Erase = "\r\x1b[K";

    private readonly TextWriter _terminal;
    private readonly bool _consoleOnSameTerminal;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    /// <summary>Whether the status line is on screen now (guarded by <see cref="_gate"/>).</summary>
    private bool _drawn;

    /// <summary>Whether the console's last byte ended a line (a status line drawn mid-line would cut the guest's text).</summary>
    private bool _consoleAtLineStart = true;

    private StatusLine(TextWriter terminal, bool consoleOnSameTerminal)
    {
        _terminal = terminal;
        _consoleOnSameTerminal = consoleOnSameTerminal;
    }

    /// <summary>A status line on stderr, or null when stderr is not a terminal (then output stays plain).</summary>
    public static StatusLine? ForTerminal() =>
        Console.IsErrorRedirected || Environment.GetEnvironmentVariable("TERM") is "dumb"
            ? null
            : new StatusLine(Console.Error, consoleOnSameTerminal: !Console.IsOutputRedirected);

    /// <summary>The console stream, erasing the status line before each write.</summary>
    public Stream WrapConsole(Stream console) => new ConsoleStream(this, console);

    /// <summary>The log writer, erasing the status line before each write.</summary>
    public TextWriter WrapLog(TextWriter log) => new LogWriter(this, log);

    /// <summary>Starts redrawing from <paramref name="poll"/>; prints how to reach the monitor first.</summary>
    public void Start(string? monitorName, Func<CancellationToken, Task<MonitorStats>> poll)
    {
        if (monitorName is not null)
        {
            lock (_gate)
            {
                EraseUnderGate();
                _terminal.WriteLine($"splitemu: monitor: splitemu monitor {monitorName}");
            }
        }

        _loop = Task.Run(() => RedrawAsync(poll, _stop.Token));
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        lock (_gate)
        {
            EraseUnderGate();
        }
    }

    /// <summary>Formats one status line from two samples <paramref name="seconds"/> apart.</summary>
    public static string Format(MonitorStats previous, MonitorStats now, double seconds)
    {
        StringBuilder line = new();
        double ips = seconds > 0 ? (now.Instructions - previous.Instructions) / seconds : 0;
        line.Append(CultureInfo.InvariantCulture, $"{Rate(ips)} instr/s");
        if (now.CpuState != "running")
        {
            line.Append(" (").Append(now.CpuState).Append(')');
        }

        foreach (MonitorDeviceStats device in now.Devices)
        {
            MonitorDeviceStats? before = previous.Devices.FirstOrDefault(d => d.Id == device.Id);
            long accesses = device.Reads + device.Writes - (before is null ? 0 : before.Reads + before.Writes);
            // A restarted process starts counting again: a negative difference means "new incarnation".
            double aps = seconds > 0 ? Math.Max(0, accesses) / seconds : 0;
            line.Append(CultureInfo.InvariantCulture, $" | {device.Id} {Rate(aps)} acc/s");
            if (device.Restarts > 0)
            {
                line.Append(CultureInfo.InvariantCulture, $", {device.Restarts} restarts");
            }
        }

        return line.ToString();
    }

    private static string Rate(double perSecond) => perSecond switch
    {
        >= 1e9 => (perSecond / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + "G",
        >= 1e6 => (perSecond / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + "M",
        >= 1e3 => (perSecond / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + "k",
        _ => perSecond.ToString("0", CultureInfo.InvariantCulture),
    };

    private async Task RedrawAsync(Func<CancellationToken, Task<MonitorStats>> poll, CancellationToken cancellationToken)
    {
        MonitorStats? previous = null;
        long previousAt = 0;
        using PeriodicTimer timer = new(s_period);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                MonitorStats now;
                try
                {
                    now = await poll(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    continue; // the machine is starting or ending: skip this frame
                }

                long nowAt = System.Diagnostics.Stopwatch.GetTimestamp();
                if (previous is not null)
                {
                    Draw(Format(previous, now, System.Diagnostics.Stopwatch.GetElapsedTime(previousAt, nowAt).TotalSeconds));
                }

                previous = now;
                previousAt = nowAt;
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    private void Draw(string text)
    {
        int width = 0;
        try
        {
            width = Console.WindowWidth;
        }
        catch (IOException)
        {
            // No size known: do not cut.
        }

        if (width > 1 && text.Length >= width)
        {
            text = text[..(width - 1)]; // a wrapped line could not be redrawn in place
        }

        lock (_gate)
        {
            if (_consoleOnSameTerminal && !_consoleAtLineStart)
            {
                return;
            }

            _terminal.Write(Erase + text);
            _terminal.Flush();
            _drawn = true;
        }
    }

    private void EraseUnderGate()
    {
        if (_drawn)
        {
            _terminal.Write(Erase);
            _terminal.Flush();
            _drawn = false;
        }
    }

    /// <summary>Console output: erase the status line, write, remember whether the line ended.</summary>
    private sealed class ConsoleStream(StatusLine status, Stream inner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (buffer.IsEmpty)
            {
                return;
            }

            lock (status._gate)
            {
                if (status._consoleOnSameTerminal)
                {
                    status.EraseUnderGate();
                }

                inner.Write(buffer);
                inner.Flush();
                status._consoleAtLineStart = buffer[^1] == (byte)'\n';
            }
        }
    }

    /// <summary>Log lines: erase the status line, then write the whole line at once.</summary>
    private sealed class LogWriter(StatusLine status, TextWriter inner) : TextWriter
    {
        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            lock (status._gate)
            {
                status.EraseUnderGate();
                inner.Write(value);
            }
        }

        public override void Write(string? value)
        {
            lock (status._gate)
            {
                status.EraseUnderGate();
                inner.Write(value);
            }
        }

        public override void WriteLine(string? value)
        {
            lock (status._gate)
            {
                status.EraseUnderGate();
                inner.WriteLine(value);
            }
        }

        public override void Flush() => inner.Flush();
    }
}
