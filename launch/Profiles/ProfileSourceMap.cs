namespace SplitEmu.Launch.Profiles;

/// <summary>
/// Where each field of the bound profile was written, by JSON path, and which fields failed to bind.
/// The validator works on the typed <c>MachineProfile</c> and asks this map where to point its errors.
/// </summary>
internal sealed class ProfileSourceMap
{
    private readonly Dictionary<string, SourceLocation> _locations = new(StringComparer.Ordinal);
    private readonly HashSet<string> _failed = new(StringComparer.Ordinal);

    public void Record(string path, SourceLocation location) => _locations[path] = location;

    /// <summary>Marks a field whose value was rejected while binding; the validator stays silent about it.</summary>
    public void MarkFailed(string path) => _failed.Add(path);

    /// <summary>True when the field was written somewhere (in a file or an override).</summary>
    public bool Contains(string path) => _locations.ContainsKey(path);

    /// <summary>True when the field or one of its parents failed to bind, so a further error would only repeat it.</summary>
    public bool HasFailed(string path)
    {
        for (string? p = path; p is not null; p = JsonPath.Parent(p))
        {
            if (_failed.Contains(p))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The location of the field, or of its nearest written parent.</summary>
    public SourceLocation LocationOf(string path)
    {
        for (string? p = path; p is not null; p = JsonPath.Parent(p))
        {
            if (_locations.TryGetValue(p, out SourceLocation? location))
            {
                return location;
            }
        }

        return new SourceLocation("profile", 0, 0, "");
    }
}
