namespace SplitEmu.Launch.Profiles;

/// <summary>
/// A parsed JSON value that remembers where it was written. Profiles are parsed into these
/// (not into <c>JsonDocument</c>) because validation runs after <c>extends</c> merging and
/// <c>--set</c> overrides, and every error must still point at the line that supplied the value.
/// </summary>
internal abstract class SourceNode(SourceLocation location)
{
    public SourceLocation Location { get; } = location;

    /// <summary>The JSON kind as named in messages: object, array, string, number, boolean, null.</summary>
    public abstract string KindName { get; }

    /// <summary>The kind with its article, for messages: "an object", "a number".</summary>
    public string KindWithArticle => KindName is "object" or "array" ? "an " + KindName : "a " + KindName;
}

/// <summary>A JSON object; properties keep their written order.</summary>
internal sealed class SourceObject(SourceLocation location) : SourceNode(location)
{
    public List<SourceProperty> Properties { get; } = [];

    public override string KindName => "object";

    public SourceProperty? Find(string name) => Properties.Find(p => p.Name == name);

    /// <summary>Replaces the value of the property named as <paramref name="property"/>, or appends it.</summary>
    public void Set(SourceProperty property)
    {
        int index = Properties.FindIndex(p => p.Name == property.Name);
        if (index >= 0)
        {
            Properties[index] = property;
        }
        else
        {
            Properties.Add(property);
        }
    }

    public void Remove(string name) => Properties.RemoveAll(p => p.Name == name);
}

/// <summary>One <c>"name": value</c> pair; <see cref="NameLocation"/> is where the name was written.</summary>
internal sealed record SourceProperty(string Name, SourceLocation NameLocation, SourceNode Value);

/// <summary>A JSON array.</summary>
internal sealed class SourceArray(SourceLocation location) : SourceNode(location)
{
    public List<SourceNode> Items { get; } = [];

    public override string KindName => "array";
}

/// <summary>The kinds of JSON scalars.</summary>
internal enum ScalarKind
{
    String,
    Number,
    Boolean,
    Null,
}

/// <summary>A string, number, boolean or null. Numbers keep their written text so nothing is rounded.</summary>
internal sealed class SourceScalar(SourceLocation location, ScalarKind kind, string text) : SourceNode(location)
{
    public ScalarKind Kind { get; } = kind;

    /// <summary>The string's value, the number as written, <c>true</c>/<c>false</c>, or <c>null</c>.</summary>
    public string Text { get; } = text;

    public override string KindName => Kind switch
    {
        ScalarKind.String => "string",
        ScalarKind.Number => "number",
        ScalarKind.Boolean => "boolean",
        _ => "null",
    };
}
