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

    private static async Task<int> ReadLoopAsync(MonitorShell shell, MonitorClient client, bool interactive, CancellationToken cancellationToken)
    {
        string name = MonitorPaths.NameOf(client.SocketPath);
        if (interactive)
        {
            Console.Error.WriteLine($"splitemu monitor: connected to '{name}'; type help for the commands, exit or Ctrl-D to leave.");
        }

        int failures = 0;
        MonitorClient? reconnected = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (interactive)
            {
                Console.Error.Write($"({name}) ");
            }

            string? line = await Console.In.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (line is null || line.Trim() is "exit")
            {
                break;
            }

            if (line.Trim().Length == 0)
            {
                continue;
            }

            if (client.IsDisconnected)
            {
                // The machine closes a client that sends nothing for a while (docs/monitor.md): if it still runs,
                // reconnect for the next command.
                try
                {
                    MonitorClient again = await MonitorClient.ConnectAsync(client.SocketPath, cancellationToken).ConfigureAwait(false);
                    reconnected?.Dispose();
                    reconnected = client = again;
                    shell = new MonitorShell(client);
                }
                catch (MonitorUnavailableException)
                {
                    Console.Error.WriteLine($"splitemu monitor: '{name}' is no longer running");
                    failures++;
                    break;
                }
            }

            int code = await RunOneAsync(shell, line, echo: false, cancellationToken).ConfigureAwait(false);
            failures += code == 0 ? 0 : 1;
            if (line.Trim() is "quit" || client.IsDisconnected)
            {
                break;
            }
        }

        reconnected?.Dispose();
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
