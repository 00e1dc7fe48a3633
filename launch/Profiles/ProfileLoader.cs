using System.Text;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.Launch.Profiles;

/// <summary>
/// Loads a launch profile: reads it and the profiles it <c>extends</c>, merges them, applies
/// <c>--set</c> overrides, binds the result to <see cref="MachineProfile"/> and validates it.
/// Bad input never throws: every problem found comes back in <see cref="ProfileLoadResult.Errors"/>.
/// The format and the rules are described in <c>docs/profiles.md</c>.
/// </summary>
/// <param name="splitemuDirectory">The folder <c>${splitemu}/</c> in profile paths stands for: the splitemu executable's folder.</param>
/// <param name="workingDirectory">The folder relative command-line paths resolve against, and that file names in errors are shown relative to.</param>
public sealed class ProfileLoader(string splitemuDirectory, string workingDirectory)
{
    /// <summary>The manifest resource name of the built-in default profile (<c>profiles/default.json</c>) in the splitemu assembly.</summary>
    public const string EmbeddedDefaultResourceName = "SplitEmu.Launch.default.json";

    /// <summary>How the built-in default profile is named in results and errors.</summary>
    public const string EmbeddedDefaultName = "built-in default";

    /// <summary>The folder <c>${splitemu}/</c> stands for.</summary>
    public string SplitemuDirectory { get; } = Path.GetFullPath(splitemuDirectory);

    /// <summary>The folder relative command-line paths resolve against.</summary>
    public string WorkingDirectory { get; } = Path.GetFullPath(workingDirectory);

    /// <summary>A loader for this process: <c>${splitemu}</c> is <see cref="AppContext.BaseDirectory"/>, paths are relative to the current directory.</summary>
    public static ProfileLoader ForCurrentProcess() => new(AppContext.BaseDirectory, Environment.CurrentDirectory);

    /// <summary>Loads the profile file at <paramref name="path"/> (relative to <see cref="WorkingDirectory"/>) with overrides.</summary>
    /// <param name="path">The profile file.</param>
    /// <param name="setOverrides">The <c>--set</c> values, each <c>path=value</c>, applied in order.</param>
    public ProfileLoadResult Load(string path, IReadOnlyList<string> setOverrides)
    {
        string display = path;
        return Guarded(display, errors =>
        {
            string? fullPath = ProfilePaths.Resolve(path, WorkingDirectory, SplitemuDirectory, out string problem);
            if (fullPath is null)
            {
                errors.Add(new ProfileError(path, 0, 0, "", problem));
                return (null, display);
            }

            display = ProfilePaths.Display(fullPath, WorkingDirectory);
            return (Reader(errors).ReadFile(fullPath, referencedAt: null, chain: []), display);
        }, setOverrides);
    }

    /// <summary>Loads the built-in default machine (embedded <c>profiles/default.json</c>) with overrides.</summary>
    /// <param name="setOverrides">The <c>--set</c> values, each <c>path=value</c>, applied in order.</param>
    public ProfileLoadResult LoadEmbeddedDefault(IReadOnlyList<string> setOverrides) =>
        Guarded(EmbeddedDefaultName, errors =>
        {
            using Stream? stream = typeof(ProfileLoader).Assembly.GetManifestResourceStream(EmbeddedDefaultResourceName);
            if (stream is null)
            {
                errors.Add(new ProfileError(EmbeddedDefaultName, 0, 0, "", $"resource {EmbeddedDefaultResourceName} is missing from the splitemu assembly; expected the build to embed profiles/default.json"));
                return (null, EmbeddedDefaultName);
            }

            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            return (Reader(errors).ReadText(buffer.ToArray(), EmbeddedDefaultName, SplitemuDirectory, chain: []), EmbeddedDefaultName);
        }, setOverrides);

    /// <summary>Loads a profile given as text.</summary>
    /// <param name="text">The profile JSON.</param>
    /// <param name="displayName">How the text is named in errors, for example a file name.</param>
    /// <param name="baseDirectory">The folder relative paths in the text (<c>extends</c>, <c>load[].file</c>) resolve against.</param>
    /// <param name="setOverrides">The <c>--set</c> values, each <c>path=value</c>, applied in order.</param>
    public ProfileLoadResult LoadFromText(string text, string displayName, string baseDirectory, IReadOnlyList<string> setOverrides) =>
        Guarded(displayName, errors =>
            (Reader(errors).ReadText(Encoding.UTF8.GetBytes(text), displayName, Path.GetFullPath(baseDirectory, WorkingDirectory), chain: []), displayName),
            setOverrides);

    private ProfileChainReader Reader(List<ProfileError> errors) => new(SplitemuDirectory, WorkingDirectory, errors);

    /// <summary>Runs the common pipeline after reading; turns an unexpected exception into an error instead of a stack trace.</summary>
    private ProfileLoadResult Guarded(string sourceName, Func<List<ProfileError>, (SourceObject? Merged, string SourceName)> read, IReadOnlyList<string> setOverrides)
    {
        var errors = new List<ProfileError>();
        try
        {
            (SourceObject? merged, sourceName) = read(errors);
            return Finish(merged, sourceName, setOverrides, errors);
        }
        catch (Exception e)
        {
            // A bug in the loader, not a problem in the profile; say so rather than blame the user.
            errors.Add(new ProfileError(sourceName, 0, 0, "", $"internal error while loading the profile ({e.GetType().Name}: {e.Message}); please report this"));
            return new ProfileLoadResult { SourceName = sourceName, Errors = errors };
        }
    }

    private ProfileLoadResult Finish(SourceObject? merged, string sourceName, IReadOnlyList<string> setOverrides, List<ProfileError> errors)
    {
        // Overrides are parsed even when the files failed, so a bad --set is reported in the same run.
        var overrides = setOverrides.Select(text => SetOverride.Parse(text, WorkingDirectory, errors)).ToList();
        if (merged is null)
        {
            return new ProfileLoadResult { SourceName = sourceName, Errors = errors };
        }

        foreach (SetOverride? setOverride in overrides)
        {
            setOverride?.Apply(merged, errors);
        }

        (MachineProfile profile, ProfileSourceMap map) = ProfileBinder.Bind(merged, errors);
        ResolvedFiles files = ProfileValidator.Validate(profile, map, SplitemuDirectory, WorkingDirectory, errors);
        if (errors.Count > 0)
        {
            return new ProfileLoadResult { SourceName = sourceName, Errors = errors };
        }

        // Validation passed, so every path resolved: the profile handed out names files by absolute path only.
        string[] imagePaths = files.Images.Select(p => p!).ToArray();
        return new ProfileLoadResult
        {
            Profile = profile with
            {
                Load = profile.Load.Select((image, i) => image with { File = imagePaths[i] }).ToArray(),
                Firmware = profile.Firmware is { } firmware ? firmware with { File = files.Firmware! } : null,
                Kernel = files.Kernel,
                Initrd = files.Initrd,
                Devices = profile.Devices.Select((device, i) => WithResolvedFiles(device, i, files)).ToArray(),
                Hosts = profile.Hosts.ToDictionary(
                    h => h.Key,
                    h => h.Value with { Identity = files.HostFiles.GetValueOrDefault((h.Key, "identity")), KnownHosts = files.HostFiles.GetValueOrDefault((h.Key, "knownHosts")) },
                    StringComparer.Ordinal),
            },
            LoadImagePaths = imagePaths,
            SourceName = sourceName,
        };
    }

    /// <summary>The device with the values of its file config keys replaced by their absolute paths.</summary>
    private static DeviceConfig WithResolvedFiles(DeviceConfig device, int index, ResolvedFiles files)
    {
        if (!device.Config.Keys.Any(key => files.DeviceFiles.ContainsKey((index, key))))
        {
            return device;
        }

        var config = new Dictionary<string, string>(device.Config, StringComparer.Ordinal);
        foreach (string key in device.Config.Keys)
        {
            if (files.DeviceFiles.TryGetValue((index, key), out string? fullPath))
            {
                config[key] = fullPath;
            }
        }

        return device with { Config = config };
    }
}
