namespace SplitEmu.Launch.Profiles;

/// <summary>
/// One problem found while loading a profile: where it is and what was expected instead.
/// Errors are data, never exceptions, so that a user sees all of them at once.
/// </summary>
/// <param name="File">
/// The profile file as shown to the user (relative to the working directory when possible), or
/// <c>--set path=value</c> when the problem comes from a command-line override.
/// </param>
/// <param name="Line">1-based line, or 0 when the problem has no position in a file.</param>
/// <param name="Column">1-based column in characters, or 0 when <paramref name="Line"/> is 0.</param>
/// <param name="JsonPath">Path of the field in the merged profile, for example <c>$.devices[1].irq</c>; empty for whole-file problems.</param>
/// <param name="Message">What is wrong and what is expected.</param>
public sealed record ProfileError(string File, int Line, int Column, string JsonPath, string Message)
{
    /// <summary>Formats as <c>file:line:col: $.path: message</c>, leaving out the parts that are unknown.</summary>
    public override string ToString()
    {
        string where = Line > 0 ? $"{File}:{Line}:{Column}" : File;
        return JsonPath.Length > 0 ? $"{where}: {JsonPath}: {Message}" : $"{where}: {Message}";
    }
}
