using System.CommandLine;
using System.Runtime.InteropServices;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Rpc;
using StreamJsonRpc;

namespace SplitEmu.Launch.Commands;

/// <summary>`splitemu run [PROFILE] [--set path=value]... [--report FILE] [--timeout SECONDS]`.</summary>
public static class RunCommand
{
    /// <summary>The profile argument (optional: the built-in default machine).</summary>
    public static readonly Argument<string?> Profile = new("profile")
    {
        Description = "Launch profile (JSON). Without it, the built-in default machine runs.",
        Arity = ArgumentArity.ZeroOrOne,
        Validators =
        {
            result =>
            {
                // An unknown option lands here as the optional profile argument: call it what it is.
                if (result.Tokens is [{ Value: ['-', ..] option }] && !File.Exists(option))
                {
                    result.AddError($"unknown option '{option}'");
                }
            },
        },
    };

    /// <summary>Overrides.</summary>
    public static readonly Option<string[]> Set = new("--set")
    {
        Description = "Override a profile value, e.g. --set memory.sizeMiB=32 or --set devices.com1.placement=inline. Repeatable.",
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <summary>Report file.</summary>
    public static readonly Option<string?> Report = new("--report")
    {
        Description = "Write a JSON report (exit reason and code, instructions, wall time, per-device accesses and processes) to FILE.",
    };

    /// <summary>Time limit.</summary>
    public static readonly Option<double?> Timeout = new("--timeout")
    {
        Description = "Stop the machine after this many seconds (exit code 6).",
        CustomParser = result =>
        {
            string text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double seconds) && seconds > 0 && double.IsFinite(seconds))
            {
                return seconds;
            }

            result.AddError($"--timeout '{text}': expected a positive number of seconds, e.g. --timeout 2.5");
            return null;
        },
    };

    /// <summary>Device output logs.</summary>
    public static readonly Option<string[]> DeviceLog = new("--device-log")
    {
        Description = "Write device ID's output stream to FILE, e.g. --device-log debugcon=seabios.log (the console device's output goes to the terminal). Repeatable.",
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        Command command = new("run", "Run a machine from a launch profile.") { Profile, Set, Report, Timeout, DeviceLog };
        command.SetAction((result, cancellationToken) => ExecuteAsync(
            result.GetValue(Profile), result.GetValue(Set) ?? [], result.GetValue(Report), result.GetValue(Timeout), cancellationToken, result.GetValue(DeviceLog) ?? []));
        return command;
    }

    /// <summary>Loads the profile, reports every error, or runs the machine.</summary>
    public static async Task<int> ExecuteAsync(string? profilePath, IReadOnlyList<string> overrides, string? reportPath, double? timeoutSeconds, CancellationToken cancellationToken, IReadOnlyList<string>? deviceLogs = null)
    {
        if (RunnableProfile.Load(profilePath, overrides) is not { } loaded)
        {
            return ExitCodes.BadInput;
        }

        Dictionary<string, string> logs = new(StringComparer.Ordinal);
        foreach (string text in deviceLogs ?? [])
        {
            int equals = text.IndexOf('=', StringComparison.Ordinal);
            string id = equals > 0 ? text[..equals] : "";
            if (equals <= 0 || equals == text.Length - 1 || !loaded.Profile!.Devices.Any(d => d.Id == id))
            {
                string known = string.Join(", ", loaded.Profile!.Devices.Select(d => d.Id));
                Console.Error.WriteLine($"--device-log '{text}': expected DEVICE=FILE with DEVICE one of: {known}");
                return ExitCodes.BadInput;
            }

            logs[id] = Path.GetFullPath(text[(equals + 1)..]);
        }

        if (timeoutSeconds is <= 0)
        {
            Console.Error.WriteLine("--timeout: expected a positive number of seconds");
            return ExitCodes.BadInput;
        }

        // SIGINT and SIGTERM stop the machine cleanly (children stopped, files removed), from the first moment on;
        // a second Ctrl-C forces the stop. The children run in sessions of their own, so the terminal's Ctrl-C
        // reaches the launcher only, never the device processes (which would otherwise die first).
        using StopRequest stop = new(cancellationToken);
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => Handle(context, stop.Interrupt));
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Handle(context, stop.Terminate));

        MachineRun.SweepStaleFiles();
        RunOptions options = new(reportPath, timeoutSeconds is double s ? TimeSpan.FromSeconds(s) : null) { DeviceLogs = logs, Stop = stop, FeedStandardInput = true };
        // The guest's console goes to fd 1 with write(2), not through System.Console's stream: a write that blocks
        // on a reader who stopped reading must block only the console's own writer thread, never the exit (the
        // runtime flushes System.Console's writers at exit, and they share its locks).
        using Stream stdout = new FileDescriptorStream(1);
        try
        {
            return await MachineRun.ExecuteAsync(loaded.Profile!, loaded.SourceName, options, stdout, Console.Error, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.Token.IsCancellationRequested)
        {
            return ExitCodes.Interrupted; // stopped while the machine was still starting
        }
        catch (RemoteInvocationException ex)
        {
            Console.Error.WriteLine($"splitemu: machine '{loaded.Profile!.Name}' could not start: {ex.Message}");
            return ExitCodes.Failure;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or ConnectionLostException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"splitemu: machine '{loaded.Profile!.Name}' failed: {ex.Message}");
            return ExitCodes.Failure;
        }
    }

    private static void Handle(PosixSignalContext context, Action stop)
    {
        context.Cancel = true; // the run stops the machine itself, then exits with its own code
        stop();
    }
}
