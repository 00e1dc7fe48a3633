using System.CommandLine;
using SplitEmu.Launch.Profiles;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Commands;

/// <summary>
/// `splitemu profiles`: the shipped profiles (the build copies <c>profiles/*.json</c> next to the executable),
/// a line each: machine name, file, and what the machine is, derived from the loaded profile.
/// </summary>
public static class ProfilesCommand
{
    /// <summary>The folder of shipped profiles next to the executable.</summary>
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "profiles");

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        Option<bool> types = new("--types")
        {
            Description = "Instead, print the device types profiles may name (ports, lines, config keys), as the Markdown table of docs/profiles.md.",
        };
        Command command = new("profiles", "List the shipped launch profiles, a line each (name, file, what the machine is).")
        {
            types,
        };
        command.SetAction(result =>
        {
            if (result.GetValue(types))
            {
                Console.Out.Write(DeviceTypeTable.Markdown());
                return 0;
            }

            return Execute(Console.Out, Console.Error);
        });
        return command;
    }

    /// <summary>Prints the list; returns the exit code.</summary>
    public static int Execute(TextWriter output, TextWriter errors)
    {
        if (!Directory.Exists(Folder))
        {
            errors.WriteLine($"splitemu profiles: no shipped profiles: {Folder} does not exist (is this a build output folder?)");
            return ExitCodes.Failure;
        }

        ProfileLoader loader = ProfileLoader.ForCurrentProcess();
        List<string[]> rows = [];
        foreach (string path in Directory.EnumerateFiles(Folder, "*.json").Order(StringComparer.Ordinal))
        {
            ProfileLoadResult loaded = loader.Load(path, []);
            string file = Path.GetFileName(path);
            rows.Add(loaded.Profile is { } profile
                ? [profile.Name, file, Describe(profile)]
                : ["?", file, "invalid: " + loaded.Errors[0].Message]);
        }

        output.WriteLine($"Shipped profiles in {Folder} (run one with: splitemu run {Path.Combine(Folder, "FILE")}; without a profile, splitemu runs default.json):");
        int nameWidth = rows.Max(r => r[0].Length);
        int fileWidth = rows.Max(r => r[1].Length);
        foreach (string[] row in rows)
        {
            output.WriteLine($"  {row[0].PadRight(nameWidth)}  {row[1].PadRight(fileWidth)}  {row[2]}");
        }

        return 0;
    }

    /// <summary>One line about a machine: RAM, devices with their placement, console, non-default restart policies.</summary>
    public static string Describe(MachineProfile profile)
    {
        IEnumerable<string> devices = profile.Devices.Select(d =>
        {
            string placement = d.Placement switch
            {
                Placement.Inline => "inline",
                Placement.Group => "group " + d.Group,
                _ => "isolated",
            };
            string restart = d.Placement == Placement.Inline || d.Restart == new RestartConfig()
                ? ""
                : d.Restart.Policy == RestartPolicy.Never
                    ? ", never restarted"
                    : $", up to {d.Restart.MaxRestarts} restarts per {d.Restart.WindowMs / 1000.0:0.#} s then {d.Restart.GiveUp.ToString().ToLowerInvariant()}";
            string console = d.Id == profile.Console ? ", console" : "";
            return $"{d.Id} ({d.Type}, {placement}{console}{restart})";
        });
        return $"{profile.Memory.SizeMiB} MiB; {string.Join("; ", devices)}";
    }
}
