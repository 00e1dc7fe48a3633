using System.Globalization;
using System.Text;
using SplitEmu.Shared.Rpc;
using StreamJsonRpc;

namespace SplitEmu.Launch.Monitor;

/// <summary>The monitor's command language: parses one command line, runs it, formats the answer.</summary>
public sealed class MonitorShell(MonitorClient client)
{
    /// <summary>The help text.</summary>
    public const string Help = """
        info machine      the machine: name, profile, processes, CPU state
        info devices      each device: type, placement, process id, epoch, restarts, state
        info regions      each device region: space, range, state, live lease count
        info cpus         each vCPU: state (running, halted, waiting-for-startup), next instruction, instructions
        info stats        uptime, instructions, accesses per device
        pause             stop the vCPU at an instruction boundary
        resume            let it continue
        unplug DEVICE     take the device's regions out of the map (waits for them to drain)
        plug DEVICE       map an unplugged device's regions again
        crash DEVICE      kill the device's process; its restart policy takes over
        quit              stop the machine (splitemu run exits with 130); says when it has ended
        help              this text
        exit              leave the monitor (interactive; the machine keeps running)
        """;

    /// <summary>What a command did.</summary>
    /// <param name="Succeeded">False when the command failed.</param>
    /// <param name="Output">What to print (the error when it failed).</param>
    /// <param name="IsUsageError">The command itself was wrong (unknown, missing argument).</param>
    public readonly record struct Outcome(bool Succeeded, string Output, bool IsUsageError = false);

    /// <summary>How long `quit` waits for the machine to say it ended (it stops its processes first; bounded by their deadlines).</summary>
    private static readonly TimeSpan s_quitEndTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long the end notice may trail the connection's end (its handler runs apart from the read loop).</summary>
    private static readonly TimeSpan s_lateNoticeGrace = TimeSpan.FromSeconds(2);

    /// <summary>The line saying the machine ended.</summary>
    public static string EndedLine(string machine, MonitorMachineEnded ended) => $"machine '{machine}' ended: {ended.Describe()}";

    /// <summary>Splits a --exec script into commands (';' or newlines separate them).</summary>
    public static IReadOnlyList<string> SplitScript(string script) =>
        script.Split([';', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>After `quit`: a line saying the machine ended and how, once it says so (empty if it does not in time).</summary>
    private async Task<string> EndedLineAsync()
    {
        // The notification comes before the connection closes; a connection that closes without it (the launcher
        // was killed) has nothing to say.
        await Task.WhenAny(client.Ended, client.Disconnected, Task.Delay(s_quitEndTimeout)).ConfigureAwait(false);
        if (!client.Ended.IsCompleted && client.Disconnected.IsCompleted)
        {
            // The notification is dispatched apart from the read loop: its handler can still be running when the
            // connection's end is seen (a loaded machine showed it). A moment more tells the two apart.
            await Task.WhenAny(client.Ended, Task.Delay(s_lateNoticeGrace)).ConfigureAwait(false);
        }

        return client.Ended.IsCompletedSuccessfully
            ? "\n" + EndedLine(MonitorPaths.NameOf(client.SocketPath), client.Ended.Result)
            : "";
    }

    /// <summary>Runs one command.</summary>
    public async Task<Outcome> ExecuteAsync(string line, CancellationToken cancellationToken)
    {
        string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (words.Length == 0)
        {
            return new Outcome(true, "");
        }

        IMonitor monitor = client.Monitor;
        try
        {
            switch (words[0].ToLowerInvariant(), words.Length)
            {
                case ("help" or "?", _):
                    return new Outcome(true, Help.TrimEnd());
                case ("info", 2) when words[1] is "machine":
                    return new Outcome(true, FormatMachine(await monitor.GetMachineAsync(cancellationToken).ConfigureAwait(false)));
                case ("info", 2) when words[1] is "devices":
                    return new Outcome(true, FormatDevices(await monitor.GetDevicesAsync(cancellationToken).ConfigureAwait(false)));
                case ("info", 2) when words[1] is "regions":
                    return new Outcome(true, FormatRegions(await monitor.GetRegionsAsync(cancellationToken).ConfigureAwait(false)));
                case ("info", 2) when words[1] is "stats":
                    return new Outcome(true, FormatStats(await monitor.GetStatsAsync(cancellationToken).ConfigureAwait(false)));
                case ("info", 2) when words[1] is "cpus":
                    return new Outcome(true, FormatCpus(await monitor.GetCpusAsync(cancellationToken).ConfigureAwait(false)));
                case ("info", _):
                    return Usage("expected one of: info machine, info devices, info regions, info stats, info cpus");
                case ("pause", 1):
                    MonitorCpuState paused = await monitor.PauseAsync(cancellationToken).ConfigureAwait(false);
                    return new Outcome(true, paused.State == "pausing"
                        ? $"pausing: the vCPU is inside an access (a device is down?) and parks when it completes; instructions {paused.Instructions}"
                        : $"{paused.State} at {paused.Instructions} instructions");
                case ("resume", 1):
                    MonitorCpuState resumed = await monitor.ResumeAsync(cancellationToken).ConfigureAwait(false);
                    return new Outcome(true, $"{resumed.State} from {resumed.Instructions} instructions");
                case ("quit", 1):
                    try
                    {
                        await monitor.QuitAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (ConnectionLostException)
                    {
                        // It stopped before the answer came back: that is what was asked.
                    }

                    return new Outcome(true, "the machine is stopping" + await EndedLineAsync().ConfigureAwait(false));
                case ("unplug", 2):
                    await monitor.UnplugAsync(words[1], cancellationToken).ConfigureAwait(false);
                    return new Outcome(true, $"{words[1]} unplugged");
                case ("plug", 2):
                    await monitor.PlugAsync(words[1], cancellationToken).ConfigureAwait(false);
                    return new Outcome(true, $"{words[1]} plugged");
                case ("crash", 2):
                    MonitorCrashResult crash = await monitor.CrashAsync(words[1], cancellationToken).ConfigureAwait(false);
                    return new Outcome(true, $"killed process '{crash.ProcessKey}' (pid {crash.KilledProcessId}, serving {string.Join(", ", crash.Devices)}); its restart policy takes over");
                case ("pause" or "resume" or "quit" or "help", _):
                    return Usage("takes no argument");
                case ("unplug" or "plug" or "crash", _):
                    return Usage($"expected one device id, e.g. {words[0]} com1");
                default:
                    return Usage($"unknown command '{words[0]}'; type help for the commands");
            }
        }
        catch (RemoteInvocationException ex)
        {
            return new Outcome(false, ex.Message);
        }
        catch (ConnectionLostException)
        {
            return new Outcome(false, "the machine has ended (its monitor connection closed)");
        }
        catch (ObjectDisposedException)
        {
            return new Outcome(false, "the machine has ended (its monitor connection closed)");
        }
    }

    private static Outcome Usage(string message) => new(false, message, IsUsageError: true);

    private static string FormatMachine(MonitorMachineInfo m) =>
        $"""
        name:     {m.Name}
        profile:  {m.Profile}
        launcher: pid {m.LauncherProcessId}
        cpu:      pid {m.CpuProcessId}, {m.CpuState}
        uptime:   {Seconds(m.UptimeMs)} s
        socket:   {m.Socket}
        """;

    private static string FormatDevices(IReadOnlyList<MonitorDeviceInfo> devices) =>
        Table(
            ["id", "type", "placement", "pid", "epoch", "restarts", "state", "host"],
            devices.Select(d => new[]
            {
                d.Id, d.Type, d.Group is null ? d.Placement : $"{d.Placement}:{d.Group}", d.ProcessId == 0 ? "-" : Num(d.ProcessId),
                d.Placement == "inline" ? "-" : Num(d.Epoch), d.Placement == "inline" ? "-" : Num(d.Restarts), d.State, d.Host ?? "-",
            }));

    private static string FormatRegions(IReadOnlyList<RegionReport> regions) =>
        Table(
            ["owner", "space", "range", "name", "kind", "state", "leases"],
            regions.Select(r => new[]
            {
                r.Owner ?? "-", r.Space, $"0x{r.Base:x}-0x{r.Base + r.Size - 1:x}", r.Name, r.Kind, r.State, Num(r.Leases),
            }));

    private static string FormatCpus(MonitorCpuState cpus) =>
        $"machine: {cpus.State}\n" + Table(
            ["cpu", "state", "next", "instructions"],
            cpus.Vcpus.Select(v => new[] { Num(v.Index), v.State, $"0x{v.InstructionPointer:x}", Num(v.Instructions) }));

    private static string FormatStats(MonitorStats stats) =>
        $"""
        uptime:       {Seconds(stats.UptimeMs)} s
        cpu:          {stats.CpuState}
        instructions: {Num(stats.Instructions)}

        """ + Table(
            ["device", "reads", "writes", "bus-errors", "output-bytes", "restarts"],
            stats.Devices.Select(d => new[] { d.Id, Num(d.Reads), Num(d.Writes), Num(d.BusErrors), Num(d.OutputBytes), Num(d.Restarts) }));

    private static string Seconds(double ms) => (ms / 1000).ToString("0.000", CultureInfo.InvariantCulture);

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Left-aligned columns, two spaces apart.</summary>
    private static string Table(string[] header, IEnumerable<string[]> rows)
    {
        List<string[]> all = [header, .. rows];
        int[] widths = header.Select((_, i) => all.Max(r => r[i].Length)).ToArray();
        StringBuilder text = new();
        foreach (string[] row in all)
        {
            text.AppendLine(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
        }

        return text.ToString().TrimEnd();
    }
}
