using SplitEmu.Launch.Host;

namespace SplitEmu.Launch.ConsoleInput;

/// <summary>
/// The terminal at standard input in raw mode for one run: every key reaches the guest as typed (Ctrl-C as byte
/// 0x03, as on a serial line), with no echo or line editing by the host. The settings it found are put back on
/// every way out: <see cref="Dispose"/> (the run ended, or was stopped by a signal or Ctrl-A X, or an exception
/// unwound it), the process exiting, and an unhandled exception. Only SIGKILL leaves the terminal raw
/// (<c>stty sane</c> repairs it), as with any program.
/// </summary>
internal sealed class RawTerminalMode : IDisposable
{
    private readonly byte[] _saved;
    private int _restored;

    private RawTerminalMode(byte[] saved)
    {
        _saved = saved;
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        AppDomain.CurrentDomain.UnhandledException += OnUnhandledException;
    }

    /// <summary>Switches the terminal at standard input to raw mode; null (nothing changed) when it cannot.</summary>
    public static RawTerminalMode? Enter()
    {
        if (TerminalControl.GetSettings(TerminalControl.StandardInput) is not { } saved)
        {
            return null;
        }

        RawTerminalMode mode = new(saved);
        if (!TerminalControl.SetSettings(TerminalControl.StandardInput, TerminalControl.Raw(saved)))
        {
            mode.Dispose();
            return null;
        }

        return mode;
    }

    /// <summary>Puts the terminal's settings back (once; later calls do nothing).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _restored, 1) != 0)
        {
            return;
        }

        TerminalControl.SetSettings(TerminalControl.StandardInput, _saved);
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        AppDomain.CurrentDomain.UnhandledException -= OnUnhandledException;
    }

    private void OnProcessExit(object? sender, EventArgs e) => Dispose();

    private void OnUnhandledException(object? sender, UnhandledExceptionEventArgs e) => Dispose();
}
