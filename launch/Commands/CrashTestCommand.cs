using System.CommandLine;
using SplitEmu.Launch.CrashTest;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Commands;

/// <summary>`splitemu crash-test [PROFILE] --crashes N [--device ID] [--set ...] [--report FILE]`.</summary>
public static class CrashTestCommand
{
    private static readonly Argument<string?> s_profile = new("profile")
    {
        Description = "Launch profile (JSON). Without it, the built-in default machine.",
        Arity = ArgumentArity.ZeroOrOne,
    };

    private static readonly Option<int> s_crashes = new("--crashes")
    {
        Description = "How many times to kill the device's process (spread over its accesses; several runs if needed).",
        DefaultValueFactory = _ => 10,
    };

    private static readonly Option<string?> s_device = new("--device")
    {
        Description = "The device whose process is killed (default: the console, else the first isolated device).",
    };

    private static readonly Option<string[]> s_set = new("--set")
    {
        Description = "Override a profile value. Repeatable.",
        Arity = ArgumentArity.ZeroOrMore,
    };

    private static readonly Option<string?> s_report = new("--report")
    {
        Description = "Write the campaign's JSON report (every crash with its timings) to FILE.",
    };

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        Command command = new("crash-test", "Kill a device's process again and again while the guest runs; check the guest saw nothing; time each recovery.")
        {
            s_profile, s_crashes, s_device, s_set, s_report,
        };
        command.SetAction((result, cancellationToken) => ExecuteAsync(
            result.GetValue(s_profile), result.GetValue(s_crashes), result.GetValue(s_device), result.GetValue(s_set) ?? [], result.GetValue(s_report), cancellationToken));
        return command;
    }

    private static async Task<int> ExecuteAsync(string? profilePath, int crashes, string? deviceId, IReadOnlyList<string> overrides, string? reportPath, CancellationToken cancellationToken)
    {
        if (RunnableProfile.Load(profilePath, overrides) is not { } loaded)
        {
            return ExitCodes.BadInput;
        }

        MachineProfile profile = loaded.Profile!;
        DeviceConfig? target = deviceId is not null
            ? profile.Devices.FirstOrDefault(d => d.Id == deviceId)
            : profile.Devices.FirstOrDefault(d => d.Id == profile.Console && d.Placement != Placement.Inline)
              ?? profile.Devices.FirstOrDefault(d => d.Placement != Placement.Inline);
        if (target is null || target.Placement == Placement.Inline || crashes < 1)
        {
            Console.Error.WriteLine(crashes < 1
                ? "--crashes: expected a positive number"
                : $"--device: expected an isolated or grouped device of '{profile.Name}'; {(deviceId is null ? "it has none" : $"'{deviceId}' is {(target is null ? "not a device of it" : "inline")}")}");
            return ExitCodes.BadInput;
        }

        MachineRun.SweepStaleFiles();
        CampaignReport report = await new CrashCampaign(profile, loaded.SourceName, target.Id, Console.Error).RunAsync(crashes, cancellationToken).ConfigureAwait(false);
        Console.Out.Write(report.Summary());
        if (reportPath is not null)
        {
            report.WriteTo(reportPath);
        }

        return report.AllExact && report.Crashes >= crashes ? 0 : ExitCodes.Failure;
    }
}
