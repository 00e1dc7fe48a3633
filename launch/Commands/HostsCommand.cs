using System.CommandLine;
using SplitEmu.Launch.Profiles;
using SplitEmu.Launch.Remote;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Commands;

/// <summary>
/// `splitemu hosts`: the machines device processes may run on (docs/remote-devices.md). `check PROFILE` connects to
/// each host the profile names and reports what it found; `info` prints what this machine offers, which is what a
/// remote host answers to `check`.
/// </summary>
public static class HostsCommand
{
    /// <summary>How long one host may take to answer a check, unless <c>--timeout-ms</c> says.</summary>
    public const int DefaultTimeoutMs = 15_000;

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        Argument<string> profile = new("profile") { Description = "The launch profile whose hosts to check." };
        Option<string[]> set = new("--set") { Description = "Override a profile value first. Repeatable.", Arity = ArgumentArity.ZeroOrMore };
        Option<int> timeout = new("--timeout-ms") { Description = "How long each host may take to answer.", DefaultValueFactory = _ => DefaultTimeoutMs };
        Command check = new("check", "Connect to each host of a profile over ssh and report what it offers (splitemu build, device types).") { profile, set, timeout };
        check.SetAction((result, cancellationToken) => CheckAsync(result.GetValue(profile)!, result.GetValue(set) ?? [], TimeSpan.FromMilliseconds(Math.Max(1, result.GetValue(timeout))), Console.Out, Console.Error, cancellationToken));

        Option<bool> json = new("--json") { Description = "One line of JSON, as hosts check reads it." };
        Command info = new("info", "Print what this machine offers device processes: splitemu build, device types, device host build.") { json };
        info.SetAction(result =>
        {
            HostInfo local = HostInfo.Local();
            Console.Out.WriteLine(result.GetValue(json) ? local.ToJson() : $"splitemu {local.Splitemu}, {local.DeviceHost} device host, device types: {string.Join(", ", local.DeviceTypes)}");
            return 0;
        });

        return new Command("hosts", "The machines device processes may run on, reached over ssh.") { check, info };
    }

    /// <summary>Checks every host of <paramref name="path"/> at once; 0 when all answered, <see cref="ExitCodes.Failure"/> when one did not, <see cref="ExitCodes.BadInput"/> for a bad profile.</summary>
    public static async Task<int> CheckAsync(string path, IReadOnlyList<string> overrides, TimeSpan timeout, TextWriter output, TextWriter errors, CancellationToken cancellationToken)
    {
        ProfileLoadResult loaded = ProfileLoader.ForCurrentProcess().Load(path, overrides);
        if (loaded.Profile is not { } machine)
        {
            foreach (ProfileError error in loaded.Errors)
            {
                errors.WriteLine(error);
            }

            return ExitCodes.BadInput;
        }

        if (machine.Hosts.Count == 0)
        {
            output.WriteLine($"{loaded.SourceName}: no hosts (every device process runs on this machine)");
            return 0;
        }

        HostCheck[] checks = await Task.WhenAll(machine.Hosts.Select(h => HostCheck.RunAsync(h.Key, h.Value, timeout, cancellationToken))).ConfigureAwait(false);
        string version = HostInfo.Version;
        int nameWidth = checks.Max(c => c.Name.Length);
        foreach (HostCheck check in checks.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            string what = check.Info is { } info
                ? $"reachable, splitemu {info.Splitemu}{(info.Splitemu == version ? "" : $" (this one is {version})")}, {info.DeviceHost} device host, device types: {string.Join(", ", info.DeviceTypes)}"
                : $"unreachable: {check.Problem}";
            output.WriteLine($"{check.Name.PadRight(nameWidth)}  {check.Url}  {what}");
        }

        return checks.All(c => c.Reachable) ? 0 : ExitCodes.Failure;
    }
}
