using SplitEmu.Shared.Profiles;

namespace SplitEmu.Launch.Profiles;

/// <summary>
/// The outcome of <see cref="ProfileLoader"/>: either a validated profile or every error found.
/// Exactly one of <see cref="Profile"/> and a non-empty <see cref="Errors"/> is present.
/// </summary>
public sealed record ProfileLoadResult
{
    /// <summary>The validated machine, or null when <see cref="Errors"/> is not empty.</summary>
    /// <remarks>
    /// Every file it names is a resolved absolute path of an existing file: <see cref="LoadConfig.File"/>,
    /// <see cref="FirmwareConfig.File"/>, and the values of device config keys that are file paths (a type's
    /// <see cref="DeviceTypeInfo.FileKeys"/>).
    /// </remarks>
    public MachineProfile? Profile { get; init; }

    /// <summary>
    /// Absolute paths of the load images, in the order of <see cref="MachineProfile.Load"/>
    /// (the same values as the profile's <see cref="LoadConfig.File"/>); empty on failure.
    /// </summary>
    public IReadOnlyList<string> LoadImagePaths { get; init; } = [];

    /// <summary>The profile as named to the user: its file (as displayed in errors) or <c>built-in default</c>.</summary>
    public string SourceName { get; init; } = "";

    /// <summary>Every problem found, in the order found; empty on success.</summary>
    public IReadOnlyList<ProfileError> Errors { get; init; } = [];

    /// <summary>True when the profile loaded and passed validation.</summary>
    public bool Succeeded => Profile is not null;
}
