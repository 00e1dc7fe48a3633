namespace SplitEmu.Launch.Profiles;

/// <summary>
/// Where a JSON value came from. <see cref="Directory"/> is the folder that relative paths written
/// in that value resolve against: the folder of the file that declared it, so that a value
/// inherited through <c>extends</c> keeps meaning what its own file meant.
/// </summary>
/// <param name="File">Display name of the file, or <c>--set path=value</c> for an override.</param>
/// <param name="Line">1-based line, 0 for overrides.</param>
/// <param name="Column">1-based column in characters, 0 for overrides.</param>
/// <param name="Directory">Absolute folder for relative paths written in this value.</param>
internal sealed record SourceLocation(string File, int Line, int Column, string Directory)
{
    public ProfileError Error(string jsonPath, string message) => new(File, Line, Column, jsonPath, message);
}
