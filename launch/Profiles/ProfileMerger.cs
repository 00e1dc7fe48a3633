namespace SplitEmu.Launch.Profiles;

/// <summary>
/// Applies a child profile on top of the profile it <c>extends</c>, in the manner of JSON Merge
/// Patch (RFC 7386) with one addition:
/// <list type="bullet">
/// <item>objects merge recursively and the child wins;</item>
/// <item>a <c>null</c> in the child removes the inherited property (this is how a child drops,
/// say, an inherited <c>spinBudget</c> or <c>group</c>);</item>
/// <item><c>devices</c> merge by <c>id</c>: a child entry with an id the parent has patches that
/// device; other entries are appended in order;</item>
/// <item>every other array (such as <c>load</c>) is replaced as a whole, and so is <c>firmware</c> (it names
/// one image, so the fields of two different images never mix).</item>
/// </list>
/// Merged values keep the location of the file that supplied them.
/// </summary>
internal static class ProfileMerger
{
    private const string DevicesPath = "$.devices";

    /// <summary>Objects a child replaces as a whole instead of patching.</summary>
    private static readonly string[] s_replacedObjects = ["$.firmware"];

    /// <summary>Returns <paramref name="child"/> applied to <paramref name="parent"/> (or to nothing, which only drops nulls).</summary>
    public static SourceObject Merge(SourceObject? parent, SourceObject child) => (SourceObject)Patch(parent, child, JsonPath.Root);

    private static SourceNode Patch(SourceNode? parent, SourceNode child, string path)
    {
        if (child is SourceObject childObject)
        {
            var result = new SourceObject(childObject.Location);
            if (parent is SourceObject parentObject && !s_replacedObjects.Contains(path))
            {
                result.Properties.AddRange(parentObject.Properties);
            }

            foreach (SourceProperty property in childObject.Properties)
            {
                if (property.Value is SourceScalar { Kind: ScalarKind.Null })
                {
                    result.Remove(property.Name);
                    continue;
                }

                SourceNode? inherited = result.Find(property.Name)?.Value;
                SourceNode merged = Patch(inherited, property.Value, JsonPath.Property(path, property.Name));
                result.Set(property with { Value = merged });
            }

            return result;
        }

        if (child is SourceArray childArray)
        {
            var result = new SourceArray(childArray.Location);
            if (path == DevicesPath && parent is SourceArray parentDevices)
            {
                result.Items.AddRange(parentDevices.Items);

                // Ids this child already used: a second entry with the same id is appended, not merged,
                // so that the validator reports the duplicate instead of it being folded in silently.
                var usedByChild = new HashSet<string>(StringComparer.Ordinal);
                foreach (SourceNode item in childArray.Items)
                {
                    string? id = IdOf(item);
                    int match = id is not null && usedByChild.Add(id) ? result.Items.FindIndex(d => IdOf(d) == id) : -1;
                    if (match >= 0)
                    {
                        result.Items[match] = Patch(result.Items[match], item, JsonPath.Index(path, match));
                    }
                    else
                    {
                        result.Items.Add(Patch(null, item, JsonPath.Index(path, result.Items.Count)));
                    }
                }

                return result;
            }

            foreach (SourceNode item in childArray.Items)
            {
                result.Items.Add(Patch(null, item, JsonPath.Index(path, result.Items.Count)));
            }

            return result;
        }

        return child;
    }

    /// <summary>The <c>id</c> string of an array item, or null when it has none.</summary>
    public static string? IdOf(SourceNode item) =>
        item is SourceObject obj && obj.Find("id")?.Value is SourceScalar { Kind: ScalarKind.String } id ? id.Text : null;
}
