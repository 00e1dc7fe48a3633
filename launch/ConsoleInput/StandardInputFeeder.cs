using SplitEmu.DeviceHost.Devices;
using SplitEmu.Launch.Host;
using SplitEmu.Launch.Profiles;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using StreamJsonRpc;

namespace SplitEmu.Launch.ConsoleInput;

/// <summary>
/// Feeds the launcher's standard input to the machine's console device (docs/console.md). On a terminal (in the
/// foreground) the terminal is raw and keys go one by one through <see cref="ConsoleEscape"/> (Ctrl-A X stops
/// the machine); a pipe or file goes through untouched, and its end just stops the feeding. Bytes go to the CPU
/// process (<see cref="ICpuHostControl.ConsoleInputAsync"/>), one call at a time: a call waits while the CPU
/// process's bounded queue is full, and meanwhile nothing more is read, so a paste larger than every buffer waits
/// in the pipe or the terminal, never in memory of ours.
/// </summary>
internal sealed class StandardInputFeeder : IDisposable
{
    private readonly ICpuHostControl _cpu;
    private readonly string _consoleId;
    private readonly StopRequest _stop;
    private readonly TextWriter _log;
    private readonly ConsoleEscape? _escape;
    private readonly RawTerminalMode? _raw;
    private readonly CancellationTokenSource _cancel = new();
    private volatile bool _stopped;

    private StandardInputFeeder(ICpuHostControl cpu, string consoleId, StopRequest stop, TextWriter log, RawTerminalMode? raw, bool terminal)
    {
        _cpu = cpu;
        _consoleId = consoleId;
        _stop = stop;
        _log = log;
        _raw = raw;
        _escape = terminal ? new ConsoleEscape() : null;
        // A read of standard input cannot be cancelled: the thread is a background one, left blocked when the run ends.
        new Thread(ReadLoop) { Name = "console-input", IsBackground = true }.Start();
    }

    /// <summary>
    /// Starts feeding <paramref name="profile"/>'s console, or returns null when there is nothing to feed: no
    /// console, standard input closed, a console that takes no input (said once on <paramref name="log"/> when
    /// someone could be typing or piping), or a terminal this process is not the foreground job of.
    /// </summary>
    public static StandardInputFeeder? Start(MachineProfile profile, ICpuHostControl cpu, StopRequest stop, TextWriter log)
    {
        if (profile.Console is not { } consoleId || Probe() is not { } input)
        {
            return null;
        }

        DeviceConfig? console = profile.Devices.FirstOrDefault(d => d.Id == consoleId);
        if (console is null || DeviceCatalog.Find(console.Type) is not { TakesInput: true })
        {
            if (input.Kind != UnixFileKind.CharacterDevice || input.Terminal)
            {
                log.WriteLine($"splitemu: console '{consoleId}' ({console?.Type}) takes no input; standard input is not read");
            }

            return null;
        }

        if (!input.Terminal)
        {
            return new StandardInputFeeder(cpu, consoleId, stop, log, raw: null, terminal: false);
        }

        if (!TerminalControl.IsForeground(TerminalControl.StandardInput))
        {
            // Changing or reading the terminal from a background job would stop the launcher (SIGTTOU, SIGTTIN).
            log.WriteLine($"splitemu: not the terminal's foreground job; console '{consoleId}' gets no input");
            return null;
        }

        RawTerminalMode? raw = RawTerminalMode.Enter();
        log.WriteLine($"splitemu: console '{consoleId}' is on this terminal: Ctrl-A X quits, Ctrl-A H for help (Ctrl-C goes to the guest)");
        return new StandardInputFeeder(cpu, consoleId, stop, log, raw, terminal: true);
    }

    /// <summary>Stops feeding and puts the terminal back as it was.</summary>
    public void Dispose()
    {
        _stopped = true;
        _cancel.Cancel();
        _raw?.Dispose();
    }

    /// <summary>What standard input is (following /proc/self/fd/0 to the file), or null when it is closed.</summary>
    private static (UnixFileKind Kind, bool Terminal)? Probe()
    {
        try
        {
            UnixFileStatus status = UnixFileStatus.Of("/proc/self/fd/0");
            return (status.Kind, TerminalControl.IsTerminal(TerminalControl.StandardInput));
        }
        catch (IOException)
        {
            return null;
        }
    }

    private void ReadLoop()
    {
        byte[] buffer = new byte[ConsoleInputLimits.MaxChunkBytes / 2]; // a Ctrl-A pair forwards two bytes per key
        List<byte> forward = new(ConsoleInputLimits.MaxChunkBytes);
        while (!_stopped)
        {
            int read = TerminalControl.Read(TerminalControl.StandardInput, buffer);
            if (read <= 0 || _stopped)
            {
                return; // end of input (or a read error): stop feeding; the machine keeps running
            }

            forward.Clear();
            if (_escape is null)
            {
                forward.AddRange(buffer.AsSpan(0, read));
            }
            else if (!Escape(buffer.AsSpan(0, read), forward))
            {
                return;
            }

            if (forward.Count > 0 && !Send([.. forward]))
            {
                return;
            }
        }
    }

    /// <summary>Runs the keys through the escape parser; false once the user asked to quit (after sending what came before).</summary>
    private bool Escape(ReadOnlySpan<byte> keys, List<byte> forward)
    {
        foreach (byte key in keys)
        {
            switch (_escape!.Feed(key, forward))
            {
                case EscapeAction.Quit:
                    if (forward.Count > 0)
                    {
                        Send([.. forward]);
                    }

                    _stop.Quit("stopped by the user (Ctrl-A X)");
                    return false;
                case EscapeAction.Help:
                    _log.WriteLine(ConsoleEscape.HelpText);
                    break;
            }
        }

        return true;
    }

    /// <summary>Hands bytes to the CPU process, waiting while its queue is full; false when feeding must end.</summary>
    private bool Send(byte[] data)
    {
        try
        {
            if (_cpu.ConsoleInputAsync(data, _cancel.Token).GetAwaiter().GetResult())
            {
                return true;
            }

            _log.WriteLine($"splitemu: console '{_consoleId}' takes no input; standard input is not read");
            return false;
        }
        catch (Exception ex) when (ex is RemoteInvocationException or ConnectionLostException or ObjectDisposedException or OperationCanceledException)
        {
            return false; // the machine is ending
        }
    }
}
