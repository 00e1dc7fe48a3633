using SplitEmu.Launch.Images;
using SplitEmu.Launch.Profiles;

namespace SplitEmu.Launch.Commands;

/// <summary>The one way commands that start machines get their profile: loaded, overridden, validated, images checked.</summary>
internal static class RunnableProfile
{
    /// <summary>
    /// Loads <paramref name="profilePath"/> (the built-in default when null) with <paramref name="overrides"/> and
    /// checks its guest images. Prints every error, one per line, and returns null when there is any.
    /// </summary>
    public static ProfileLoadResult? Load(string? profilePath, IReadOnlyList<string> overrides)
    {
        ProfileLoader loader = ProfileLoader.ForCurrentProcess();
        ProfileLoadResult loaded = profilePath is null ? loader.LoadEmbeddedDefault(overrides) : loader.Load(profilePath, overrides);
        IReadOnlyList<string> errors = loaded.Succeeded
            ? GuestImageCheck.Check(loaded.Profile!)
            : loaded.Errors.Select(e => e.ToString()).ToArray();
        foreach (string error in errors)
        {
            Console.Error.WriteLine(error);
        }

        return errors.Count == 0 ? loaded : null;
    }
}
