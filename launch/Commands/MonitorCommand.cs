using System.CommandLine;
using System.CommandLine.Completions;
using SplitEmu.Launch.Monitor;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Commands;

/// <summary>
/// `splitemu monitor MACHINE [--exec "cmd; cmd"]`: looks into and steers a running machine; `splitemu monitor`
/// alone, or `splitemu monitor list`, lists the running machines (docs/monitor.md).
/// </summary>
public static class MonitorCommand
{
    private static readonly Argument<string?> s_machine = CreateMachineArgument();

    /// <summary>How long a closed connection may wait for the end notification that came just before it.</summary>
    private static readonly TimeSpan s_endNoticeGrace = TimeSpan.FromMilliseconds(250);

    /// <summary>Reconnections after a close come at most this often (a machine at its client limit closes at once).</summary>
    private static readonly TimeSpan s_reconnectPace = TimeSpan.FromSeconds(1);

    private static readonly Option<string?> s_exec = new("--exec", "-e")
    {
        Description = "Run these commands (separated by ';') and exit: non-zero at the first that fails. Without it, an interactive prompt (or commands read from standard input).",
    };

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        Command list = new("list", "List the running machines of this user: monitor name (NAME-PID), launcher pid, profile, uptime.");
        list.SetAction((_, cancellationToken) => ListAsync(Console.Out, cancellationToken));
        Command command = new("monitor", "Look into and steer a running machine: info devices|regions|stats, pause, resume, unplug/plug/crash DEVICE, quit. Without MACHINE, list the running machines.")
        {
            s_machine, s_exec, list,
        };
        command.SetAction((result, cancellationToken) => (result.GetValue(s_machine), result.GetValue(s_exec)) switch
        {
            ({ } machine, var script) => ExecuteAsync(machine, script, cancellationToken),
            (null, null) => ListAsync(Console.Out, cancellationToken),
            (null, _) => Task.FromResult(Refuse("--exec needs a MACHINE (see `splitemu monitor list`)")),
        });
        return command;
    }

    /// <summary>Prints the running machines, a line each; returns the exit code (0, also when none runs).</summary>
    public static async Task<int> ListAsync(TextWriter output, CancellationToken cancellationToken)
    {
        IReadOnlyList<(string MonitorName, MonitorMachineInfo Info)> running = await MonitorClient.ListRunningAsync(cancellationToken).ConfigureAwait(false);
        if (running.Count == 0)
        {
            output.WriteLine($"no machine is running (monitor sockets live in {MonitorPaths.Folder})");
            return 0;
        }

        int width = Math.Max("monitor".Length, running.Max(m => m.MonitorName.Length));
        output.WriteLine($"{"monitor".PadRight(width)}  {"launcher",8}  {"uptime",9}  profile");
        foreach ((string monitorName, MonitorMachineInfo info) in running)
        {
            string uptime = TimeSpan.FromMilliseconds(info.UptimeMs).TotalSeconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + " s";
            output.WriteLine($"{monitorName.PadRight(width)}  {info.LauncherProcessId,8}  {uptime,9}  {info.Profile}");
        }

        return 0;
    }

    private static int Refuse(string message)
    {
        Console.Error.WriteLine($"splitemu monitor: {message}");
        return ExitCodes.BadInput;
    }

    private static Argument<string?> CreateMachineArgument()
    {
        Argument<string?> machine = new("machine")
        {
            Description = "The running machine: its name if only one run has it, else NAME-PID (see `splitemu monitor list`), or its monitor socket's path.",
            Arity = ArgumentArity.ZeroOrOne,
        };

        // Shell completion offers the runs that are up now.
        machine.CompletionSources.Add(_ => MonitorLookup.RunningMonitorNames().Select(name => new CompletionItem(name)));
        return machine;
    }

    /// <summary>Connects and runs the script, the prompt, or standard input; returns the exit code.</summary>
    public static async Task<int> ExecuteAsync(string machine, string? script, CancellationToken cancellationToken)
    {
        MonitorClient client;
        try
        {
            client = await MonitorClient.ConnectAsync(machine, cancellationToken).ConfigureAwait(false);
        }
        catch (MonitorUnavailableException ex)
        {
            Console.Error.WriteLine($"splitemu monitor: {ex.Message}");
            return ExitCodes.BadInput;
        }

        using (client)
        {
            MonitorShell shell = new(client);
            if (script is not null)
            {
                foreach (string line in MonitorShell.SplitScript(script))
                {
                    int code = await RunOneAsync(shell, line, echo: true, cancellationToken).ConfigureAwait(false);
                    if (code != 0)
                    {
                        return code;
                    }
                }

                return 0;
            }

            return await ReadLoopAsync(shell, client, interactive: !Console.IsInputRedirected, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads commands until end of input, <c>exit</c> or <c>quit</c>, and meanwhile watches the machine: when it ends
    /// (not by this monitor's quit), says how and exits with <see cref="ExitCodes.MonitoredMachineEnded"/>. A
    /// connection the machine closed for idleness is opened again at once, so the end is still seen.
    /// </summary>
    private static async Task<int> ReadLoopAsync(MonitorShell shell, MonitorClient client, bool interactive, CancellationToken cancellationToken)
    {
        string name = MonitorPaths.NameOf(client.SocketPath);
        if (interactive)
        {
            Console.Error.WriteLine($"splitemu monitor: connected to '{name}'; type help for the commands, exit or Ctrl-D to leave.");
        }

        int failures = 0;
        MonitorClient? reconnected = null;
        Task<string?>? pendingRead = null;
        long connectedAt = Environment.TickCount64;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (pendingRead is null && interactive)
                {
                    Console.Error.Write($"({name}) ");
                }

                // Console.In reads synchronously even through ReadLineAsync: read on a pool thread, so the machine's
                // end is seen while the read waits (an unfinished read does not keep the process from exiting).
                pendingRead ??= Task.Run(Console.In.ReadLine, CancellationToken.None);
                Task woke = await Task.WhenAny(pendingRead, client.Ended, client.Disconnected).ConfigureAwait(false);
                if (woke != pendingRead)
                {
                    // The end notification is dispatched just before the connection closes: give it a moment.
                    await Task.WhenAny(client.Ended, Task.Delay(s_endNoticeGrace, CancellationToken.None)).ConfigureAwait(false);
                    if (client.Ended.IsCompletedSuccessfully)
                    {
                        Console.Error.WriteLine($"{(interactive ? "\n" : "")}splitemu monitor: {MonitorShell.EndedLine(name, client.Ended.Result)}");
                        return ExitCodes.MonitoredMachineEnded;
                    }

                    // Closed for idleness (docs/monitor.md), or the launcher is gone without a word: connect again.
                    if (Environment.TickCount64 - connectedAt < s_reconnectPace.TotalMilliseconds)
                    {
                        await Task.Delay(s_reconnectPace, cancellationToken).ConfigureAwait(false);
                    }

                    try
                    {
                        MonitorClient again = await MonitorClient.ConnectAsync(client.SocketPath, cancellationToken).ConfigureAwait(false);
                        reconnected?.Dispose();
                        reconnected = client = again;
                        shell = new MonitorShell(client);
                        connectedAt = Environment.TickCount64;
                        continue;
                    }
                    catch (MonitorUnavailableException)
                    {
                        Console.Error.WriteLine($"{(interactive ? "\n" : "")}splitemu monitor: machine '{name}' is no longer running (it ended without saying how: its launcher was killed?)");
                        return ExitCodes.MonitoredMachineEnded;
                    }
                }

                string? line = await pendingRead.ConfigureAwait(false);
                pendingRead = null;
                if (line is null || line.Trim() is "exit")
                {
                    break;
                }

                if (line.Trim().Length == 0)
                {
                    continue;
                }

                int code = await RunOneAsync(shell, line, echo: false, cancellationToken).ConfigureAwait(false);
                failures += code == 0 ? 0 : 1;
                if (line.Trim() is "quit")
                {
                    break; // its output says that the machine ended
                }
            }
        }
        finally
        {
            reconnected?.Dispose();
        }

        return failures == 0 || interactive ? 0 : ExitCodes.Failure;
    }

    private static async Task<int> RunOneAsync(MonitorShell shell, string line, bool echo, CancellationToken cancellationToken)
    {
        MonitorShell.Outcome outcome = await shell.ExecuteAsync(line, cancellationToken).ConfigureAwait(false);
        if (echo)
        {
            Console.WriteLine($"> {line}");
        }

        if (outcome.Succeeded)
        {
            if (outcome.Output.Length > 0)
            {
                Console.WriteLine(outcome.Output);
            }

            return 0;
        }

        Console.Error.WriteLine($"splitemu monitor: {line}: {outcome.Output}");
        return outcome.IsUsageError ? ExitCodes.BadInput : ExitCodes.Failure;
    }
}
