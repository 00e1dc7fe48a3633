using System.Text;

namespace SplitEmu.Launch.Supervision;

/// <summary>
/// Splits a child's standard output or error into lines of bounded length. .NET's own line reading keeps a
/// line until its newline comes: a child that writes 300 MB without one made the launcher hold a gigabyte. Here
/// a line longer than the limit is cut: its first <see cref="MaxLineBytes"/> bytes are passed on with a marker,
/// the rest up to the newline is dropped.
/// </summary>
public static class BoundedLineReader
{
    /// <summary>Longest line passed on, in bytes (UTF-8, before the newline).</summary>
    public const int MaxLineBytes = 64 * 1024;

    /// <summary>Appended to a line that was cut.</summary>
    public static string CutMarker(int maxLineBytes) => $"… (line cut at {maxLineBytes} bytes)";

    /// <summary>Reads <paramref name="stream"/> to its end, passing each line (without its newline) to <paramref name="onLine"/>.</summary>
    public static async Task ReadLinesAsync(Stream stream, Action<string> onLine, int maxLineBytes = MaxLineBytes)
    {
        byte[] line = new byte[maxLineBytes];
        byte[] chunk = new byte[16 * 1024];
        int length = 0;
        bool cut = false; // this line was already passed on, cut; drop the rest of it
        int read;
        while ((read = await stream.ReadAsync(chunk).ConfigureAwait(false)) > 0)
        {
            ReadOnlySpan<byte> bytes = chunk.AsSpan(0, read);
            while (!bytes.IsEmpty)
            {
                int newline = bytes.IndexOf((byte)'\n');
                ReadOnlySpan<byte> part = newline < 0 ? bytes : bytes[..newline];
                bytes = newline < 0 ? [] : bytes[(newline + 1)..];
                if (!cut)
                {
                    int room = maxLineBytes - length;
                    part[..Math.Min(room, part.Length)].CopyTo(line.AsSpan(length));
                    length += Math.Min(room, part.Length);
                    if (part.Length > room)
                    {
                        onLine(Decode(line, length) + CutMarker(maxLineBytes));
                        cut = true;
                    }
                }

                if (newline >= 0)
                {
                    if (!cut)
                    {
                        onLine(Decode(line, length));
                    }

                    length = 0;
                    cut = false;
                }
            }
        }

        if (length > 0 && !cut)
        {
            onLine(Decode(line, length)); // the last line had no newline
        }
    }

    private static string Decode(byte[] line, int length)
    {
        int end = length > 0 && line[length - 1] == '\r' ? length - 1 : length;
        return Encoding.UTF8.GetString(line, 0, end);
    }
}
