using System.CommandLine;
using SplitEmu.Launch.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Commands;

/// <summary>`splitemu validate PROFILE...`: checks profiles without starting anything.</summary>
public static class ValidateCommand
{
    private static readonly Argument<string[]> s_profiles = new("profiles")
    {
        Description = "Launch profiles to check.",
        Arity = ArgumentArity.OneOrMore,
    };

    private static readonly Option<string[]> s_set = new("--set")
    {
        Description = "Override a profile value before checking. Repeatable.",
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        Command command = new("validate", "Check launch profiles; print every error with file, line, column and field.") { s_profiles, s_set };
        command.SetAction(result =>
        {
            ProfileLoader loader = ProfileLoader.ForCurrentProcess();
            int failures = 0;
            foreach (string path in result.GetValue(s_profiles) ?? [])
            {
                ProfileLoadResult loaded = loader.Load(path, result.GetValue(s_set) ?? []);
                if (loaded.Succeeded)
                {
                    Console.WriteLine($"{loaded.SourceName}: ok");
                    continue;
                }

                failures++;
                foreach (ProfileError error in loaded.Errors)
                {
                    Console.Error.WriteLine(error);
                }
            }

            return failures == 0 ? 0 : ExitCodes.BadInput;
        });
        return command;
    }
}
