namespace SplitEmu.Launch.Profiles;

/// <summary>
/// Maps enum members to the kebab-case strings profiles use: <c>AllOnes</c> is <c>all-ones</c>,
/// <c>Protected32Flat</c> is <c>protected32-flat</c> (a hyphen goes before each capital that follows
/// a lower-case letter or a digit). The JSON Schema's enums are checked against this mapping by a test.
/// </summary>
public static class KebabCaseEnum
{
    /// <summary>The profile spelling of <paramref name="value"/>.</summary>
    public static string ToName<T>(T value)
        where T : struct, Enum => ToKebabCase(value.ToString());

    /// <summary>All profile spellings of <typeparamref name="T"/>, in declaration order.</summary>
    public static IReadOnlyList<string> Names<T>()
        where T : struct, Enum => Enum.GetValues<T>().Select(ToName).ToArray();

    /// <summary>All profile spellings of an enum type, in declaration order.</summary>
    public static IReadOnlyList<string> Names(Type enumType) =>
        Enum.GetNames(enumType).Select(ToKebabCase).ToArray();

    /// <summary>Finds the member spelled <paramref name="name"/> (exact, case-sensitive).</summary>
    public static bool TryParse<T>(string name, out T value)
        where T : struct, Enum
    {
        foreach (T candidate in Enum.GetValues<T>())
        {
            if (ToName(candidate) == name)
            {
                value = candidate;
                return true;
            }
        }

        value = default;
        return false;
    }

    private static string ToKebabCase(string pascal)
    {
        var text = new System.Text.StringBuilder(pascal.Length + 4);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsAsciiLetterUpper(c) && i > 0 && (char.IsAsciiLetterLower(pascal[i - 1]) || char.IsAsciiDigit(pascal[i - 1])))
            {
                text.Append('-');
            }

            text.Append(char.ToLowerInvariant(c));
        }

        return text.ToString();
    }
}
