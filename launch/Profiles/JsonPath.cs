namespace SplitEmu.Launch.Profiles;

/// <summary>Builds the JSONPath strings used in errors: <c>$.devices[1].irq</c>, <c>$.devices[0].config['odd key']</c>.</summary>
internal static class JsonPath
{
    public const string Root = "$";

    public static string Property(string parent, string name) =>
        IsPlainName(name) ? $"{parent}.{name}" : $"{parent}['{name.Replace("'", "\\'")}']";

    public static string Index(string parent, int index) => $"{parent}[{index}]";

    /// <summary>The parent path, or null for the root.</summary>
    public static string? Parent(string path)
    {
        if (path == Root)
        {
            return null;
        }

        int cut = path.EndsWith(']') ? path.LastIndexOf('[') : path.LastIndexOf('.');
        return cut > 0 ? path[..cut] : Root;
    }

    private static bool IsPlainName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '$' or '-');
}
