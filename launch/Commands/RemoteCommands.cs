using System.CommandLine;
using SplitEmu.Launch.Remote;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.Launch.Commands;

/// <summary>
/// The two ends of a device process on another host (docs/remote-devices.md), started by splitemu, not by hand (hidden
/// from the help): `remote-bridge` stands in for the device process beside the CPU process and reaches the host
/// over ssh; `remote-serve` is what ssh runs there.
/// </summary>
public static class RemoteCommands
{
    /// <summary>The bridge's command name (<see cref="Supervision.HostExecutables"/> starts it as a device process).</summary>
    public const string BridgeName = "remote-bridge";

    /// <summary>The remote end's command name.</summary>
    public const string ServeName = "remote-serve";

    /// <summary>Builds `remote-bridge --control SOCKET --url URL [--identity F] [--known-hosts F] [--splitemu CMD] [--sandbox]`.</summary>
    public static Command CreateBridge()
    {
        Option<string> control = new("--control") { Required = true };
        Option<string> url = new("--url") { Required = true };
        Option<string?> identity = new("--identity");
        Option<string?> knownHosts = new("--known-hosts");
        Option<string> splitemu = new("--splitemu") { DefaultValueFactory = _ => ProfileDefaults.RemoteSplitemu };
        Option<bool> sandbox = new("--sandbox");
        Command bridge = new(BridgeName, "A device process on another host, as the CPU process sees it.")
        {
            control, url, identity, knownHosts, splitemu, sandbox,
        };
        bridge.Hidden = true;
        bridge.SetAction((result, _) => RemoteBridge.RunAsync(
            result.GetValue(control)!,
            new HostConfig
            {
                Url = result.GetValue(url)!,
                Identity = result.GetValue(identity),
                KnownHosts = result.GetValue(knownHosts),
                Splitemu = result.GetValue(splitemu)!,
            },
            result.GetValue(sandbox)));
        return bridge;
    }

    /// <summary>The bridge's arguments (after <c>--control SOCKET</c>) for a device process on <paramref name="host"/>.</summary>
    public static string[] BridgeArguments(HostConfig host, bool sandboxed)
    {
        List<string> arguments = ["--url", host.Url, "--splitemu", host.Splitemu];
        if (host.Identity is { } identity)
        {
            arguments.AddRange(["--identity", identity]);
        }

        if (host.KnownHosts is { } knownHosts)
        {
            arguments.AddRange(["--known-hosts", knownHosts]);
        }

        if (sandboxed)
        {
            arguments.Add("--sandbox");
        }

        return [.. arguments];
    }

    /// <summary>Builds `remote-serve [--sandbox]`: serves one device process over standard input and output.</summary>
    public static Command CreateServe()
    {
        Option<bool> sandbox = new("--sandbox");
        Command serve = new(ServeName, "The remote end of a device process on this host, run by ssh.") { sandbox };
        serve.Hidden = true;
        serve.SetAction((result, _) => RemoteServe.RunAsync(result.GetValue(sandbox)));
        return serve;
    }
}
