using SplitEmu.Launch.Host;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.Launch.Profiles;

/// <summary>
/// Reads one profile file and, through <c>extends</c>, the chain of profiles below it, and merges
/// them (see <see cref="ProfileMerger"/>). Checks what belongs to each file rather than to the
/// machine: that it is a JSON object, its <c>schemaVersion</c>, and its <c>extends</c>.
/// </summary>
internal sealed class ProfileChainReader(string splitemuDirectory, string workingDirectory, List<ProfileError> errors)
{
    /// <summary>Larger than any sensible profile; keeps a mistaken path (a disk image, say) from being read whole.</summary>
    private const long MaxProfileBytes = 1 << 20;

    /// <summary>Reads the file at <paramref name="fullPath"/>; null when it or a profile it extends could not be read.</summary>
    /// <param name="fullPath">Absolute path of the file.</param>
    /// <param name="referencedAt">Where the <c>extends</c> naming this file was written, or null for the first file.</param>
    /// <param name="chain">Absolute paths of the files that extend this one, innermost last, for cycle detection.</param>
    public SourceObject? ReadFile(string fullPath, SourceLocation? referencedAt, IReadOnlyList<string> chain)
    {
        string display = ProfilePaths.Display(fullPath, workingDirectory);
        ProfileError FileError(string message) =>
            referencedAt?.Error("$.extends", message) ?? new ProfileError(display, 0, 0, "", message);

        if (chain.Contains(fullPath, StringComparer.Ordinal))
        {
            string cycle = string.Join(" -> ", chain.Append(fullPath).Select(p => ProfilePaths.Display(p, workingDirectory)));
            errors.Add(FileError($"extends cycle: {cycle}; expected a chain of profiles that ends in one without extends"));
            return null;
        }

        byte[] bytes;
        try
        {
            var info = new FileInfo(fullPath);
            if (Directory.Exists(fullPath))
            {
                errors.Add(FileError($"{display} is a folder; expected a profile file"));
                return null;
            }

            if (!info.Exists)
            {
                errors.Add(FileError($"profile {display} not found; expected a path to a JSON profile"));
                return null;
            }

            // The profile on the command line may be a pipe (`<(jq ...)`), but an extended one is a file the
            // profile names: a FIFO there would block the read forever, a device would never end.
            if (referencedAt is not null && UnixFileStatus.Of(fullPath) is { Kind: not UnixFileKind.Regular } status)
            {
                errors.Add(FileError($"profile {display} is {status.KindWithArticle}, not a regular file; expected a JSON profile file"));
                return null;
            }

            if (info.Length > MaxProfileBytes)
            {
                errors.Add(FileError($"profile {display} is {info.Length} bytes; expected a JSON profile of at most {MaxProfileBytes} bytes"));
                return null;
            }

            bytes = ReadAtMost(fullPath, MaxProfileBytes + 1);
            if (bytes.Length > MaxProfileBytes)
            {
                // A file whose size the file system does not report (a pipe, a device) and that is too long.
                errors.Add(FileError($"profile {display} is longer than {MaxProfileBytes} bytes; expected a JSON profile of at most {MaxProfileBytes} bytes"));
                return null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            errors.Add(FileError($"profile {display} cannot be read ({e.Message}); expected a readable file"));
            return null;
        }

        return ReadText(bytes, display, Path.GetDirectoryName(fullPath)!, [.. chain, fullPath]);
    }

    /// <summary>Parses one profile's text and merges it onto the profile it extends, if any.</summary>
    /// <param name="utf8">The profile text.</param>
    /// <param name="display">The name of the text in messages.</param>
    /// <param name="directory">The folder relative paths in the text resolve against.</param>
    /// <param name="chain">Absolute paths of this file (if it is one) and the files that extend it.</param>
    public SourceObject? ReadText(ReadOnlySpan<byte> utf8, string display, string directory, IReadOnlyList<string> chain)
    {
        SourceNode? root = SourceJsonParser.Parse(utf8, display, directory, errors);
        if (root is null)
        {
            return null;
        }

        if (root is not SourceObject profile)
        {
            errors.Add(root.Location.Error(JsonPath.Root, $"expected a JSON object at the top level, found {root.KindWithArticle}"));
            return null;
        }

        CheckSchemaVersion(profile);

        // $schema is for editors only; extends is consumed here. Neither is part of the machine.
        profile.Remove("$schema");
        SourceProperty? extends = profile.Find("extends");
        profile.Remove("extends");
        if (extends is null)
        {
            return ProfileMerger.Merge(null, profile);
        }

        if (extends.Value is not SourceScalar { Kind: ScalarKind.String } target)
        {
            errors.Add(extends.NameLocation.Error("$.extends", $"expected a string (the path of the profile to extend), found {extends.Value.KindWithArticle}"));
            return null;
        }

        string? parentPath = ProfilePaths.Resolve(target.Text, directory, splitemuDirectory, out string problem);
        if (parentPath is null)
        {
            errors.Add(extends.NameLocation.Error("$.extends", problem));
            return null;
        }

        SourceObject? parent = ReadFile(parentPath, extends.NameLocation, chain);
        return parent is null ? null : ProfileMerger.Merge(parent, profile);
    }

    /// <summary>Reads up to <paramref name="limit"/> bytes, so that a path naming a device such as /dev/zero cannot read forever.</summary>
    private static byte[] ReadAtMost(string path, long limit)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while (buffer.Length < limit && (read = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, limit - buffer.Length))) > 0)
        {
            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private void CheckSchemaVersion(SourceObject profile)
    {
        string expected = $"expected {ProfileDefaults.SchemaVersion} (the schema version this splitemu reads)";
        SourceProperty? version = profile.Find("schemaVersion");
        if (version is null)
        {
            errors.Add(profile.Location.Error(JsonPath.Root, $"missing required property 'schemaVersion'; {expected}"));
        }
        else if (version.Value is not SourceScalar { Kind: ScalarKind.Number, Text: var text } || text != ProfileDefaults.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            string found = version.Value is SourceScalar scalar ? scalar.Text : version.Value.KindName;
            errors.Add(version.NameLocation.Error("$.schemaVersion", $"schema version {found} is not supported; expected {ProfileDefaults.SchemaVersion} (the schema version this splitemu reads)"));

            // Keep the binder from reporting the same value again as a wrong type.
            profile.Remove("schemaVersion");
        }
    }
}
