using System.Text;
using System.Text.Json;

namespace SplitEmu.Launch.Profiles;

/// <summary>
/// Parses strict JSON (no comments, no trailing commas) into <see cref="SourceNode"/> trees with
/// line and column of every value. Syntax errors become one <see cref="ProfileError"/>; nothing throws.
/// </summary>
internal static class SourceJsonParser
{
    /// <summary>Deeper nesting than any profile needs; stops hostile input from recursing forever.</summary>
    private const int MaxDepth = 32;

    private static readonly JsonReaderOptions s_options = new()
    {
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = MaxDepth,
    };

    /// <summary>Parses <paramref name="utf8"/>; returns null and adds an error when it is not one valid JSON value.</summary>
    public static SourceNode? Parse(ReadOnlySpan<byte> utf8, string file, string directory, List<ProfileError> errors)
    {
        ReadOnlySpan<byte> bom = [0xEF, 0xBB, 0xBF];
        int bomLength = utf8.StartsWith(bom) ? bom.Length : 0;
        var positions = new TextPositions(utf8, bomLength);
        if (utf8[bomLength..].TrimStart(" \t\r\n"u8).IsEmpty)
        {
            errors.Add(new ProfileError(file, 0, 0, "", "the file is empty; expected a JSON object"));
            return null;
        }

        var reader = new Utf8JsonReader(utf8[bomLength..], s_options);
        try
        {
            reader.Read();
            SourceNode root = ReadValue(ref reader, positions, file, directory, bomLength, JsonPath.Root, errors);

            // The reader rejects anything but whitespace after the value (as a JsonException).
            reader.Read();
            return root;
        }
        catch (JsonException e)
        {
            int line = (int)(e.LineNumber ?? 0) + 1;
            int column = positions.ColumnOf(line, (int)(e.BytePositionInLine ?? 0));
            if (e.Message.Contains("trailing comma", StringComparison.Ordinal)
                && positions.TrailingCommaBefore(line, (int)(e.BytePositionInLine ?? 0)) is var (commaLine, commaColumn))
            {
                // The reader stops at the closing bracket, often on the next line; the slip is the comma.
                (line, column) = (commaLine, commaColumn);
            }

            errors.Add(new ProfileError(file, line, column, "", "not valid JSON: " + WithoutPositionSuffix(e.Message)));
            return null;
        }
        catch (InvalidOperationException e)
        {
            // GetString throws this for text that is not valid UTF-8.
            errors.Add(new ProfileError(file, 0, 0, "", "not valid JSON: " + e.Message));
            return null;
        }
    }

    private static SourceNode ReadValue(ref Utf8JsonReader reader, TextPositions positions, string file, string directory, int bomLength, string path, List<ProfileError> errors)
    {
        var (line, column) = positions.At(bomLength + (int)reader.TokenStartIndex);
        var location = new SourceLocation(file, line, column, directory);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var obj = new SourceObject(location);
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var (nameLine, nameColumn) = positions.At(bomLength + (int)reader.TokenStartIndex);
                    var nameLocation = new SourceLocation(file, nameLine, nameColumn, directory);
                    string name = reader.GetString()!;
                    reader.Read();
                    string propertyPath = JsonPath.Property(path, name);
                    SourceNode value = ReadValue(ref reader, positions, file, directory, bomLength, propertyPath, errors);
                    if (obj.Find(name) is not null)
                    {
                        // Reported, not silently "last wins": a duplicated key is almost always an editing slip.
                        errors.Add(nameLocation.Error(propertyPath, $"duplicate property '{name}'; expected each property once per object"));
                        continue;
                    }

                    obj.Properties.Add(new SourceProperty(name, nameLocation, value));
                }

                return obj;
            case JsonTokenType.StartArray:
                var array = new SourceArray(location);
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    array.Items.Add(ReadValue(ref reader, positions, file, directory, bomLength, JsonPath.Index(path, array.Items.Count), errors));
                }

                return array;
            case JsonTokenType.String:
                return new SourceScalar(location, ScalarKind.String, reader.GetString()!);
            case JsonTokenType.Number:
                return new SourceScalar(location, ScalarKind.Number, Encoding.UTF8.GetString(reader.ValueSpan));
            case JsonTokenType.True:
                return new SourceScalar(location, ScalarKind.Boolean, "true");
            case JsonTokenType.False:
                return new SourceScalar(location, ScalarKind.Boolean, "false");
            default:
                return new SourceScalar(location, ScalarKind.Null, "null");
        }
    }

    /// <summary>
    /// Makes a System.Text.Json message fit for users: drops the " LineNumber: n | BytePositionInLine: m."
    /// suffix (shown as file:line:col instead) and advice about reader options they cannot set,
    /// and escapes line breaks so that one error stays on one line.
    /// </summary>
    private static string WithoutPositionSuffix(string message)
    {
        int index = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        string text = index >= 0 ? message[..index] : message;
        text = text.Replace(" Change the reader options.", "", StringComparison.Ordinal)
            .Replace(" which is not supported in this mode", "", StringComparison.Ordinal)
            .Replace("\r", "\\r", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal)
            .Replace("\t", "\\t", StringComparison.Ordinal);
        return text.TrimEnd();
    }

    /// <summary>Maps byte offsets in a UTF-8 buffer to 1-based line and character column.</summary>
    private readonly ref struct TextPositions
    {
        private readonly ReadOnlySpan<byte> _utf8;
        private readonly List<int> _lineStarts;

        public TextPositions(ReadOnlySpan<byte> utf8, int start)
        {
            _utf8 = utf8;
            _lineStarts = [start];
            for (int i = start; i < utf8.Length; i++)
            {
                if (utf8[i] == (byte)'\n')
                {
                    _lineStarts.Add(i + 1);
                }
            }
        }

        public (int Line, int Column) At(int offset)
        {
            int index = _lineStarts.BinarySearch(offset);
            int lineIndex = index >= 0 ? index : ~index - 1;
            return (lineIndex + 1, CharsBetween(_lineStarts[lineIndex], offset) + 1);
        }

        /// <summary>Column of a 0-based byte position within a 1-based line, as System.Text.Json reports them.</summary>
        public int ColumnOf(int line, int bytePositionInLine)
        {
            if (line < 1 || line > _lineStarts.Count)
            {
                return 1;
            }

            int start = _lineStarts[line - 1];
            return CharsBetween(start, Math.Min(_utf8.Length, start + bytePositionInLine)) + 1;
        }

        /// <summary>
        /// The comma that whitespace alone separates from the closing bracket at (<paramref name="line"/>,
        /// <paramref name="bytePositionInLine"/>), or null.
        /// </summary>
        public (int Line, int Column)? TrailingCommaBefore(int line, int bytePositionInLine)
        {
            if (line < 1 || line > _lineStarts.Count)
            {
                return null;
            }

            for (int i = Math.Min(_utf8.Length, _lineStarts[line - 1] + bytePositionInLine) - 1; i >= _lineStarts[0]; i--)
            {
                if (_utf8[i] == (byte)',')
                {
                    return At(i);
                }

                if (_utf8[i] is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
                {
                    return null;
                }
            }

            return null;
        }

        private int CharsBetween(int from, int to)
        {
            int count = 0;
            for (int i = from; i < to && i < _utf8.Length; i++)
            {
                // Count every byte that starts a UTF-8 sequence; continuation bytes are 10xxxxxx.
                if ((_utf8[i] & 0xC0) != 0x80)
                {
                    count++;
                }
            }

            return count;
        }
    }
}
