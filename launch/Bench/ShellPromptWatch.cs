using System.Diagnostics;
using System.Text;

namespace SplitEmu.Launch.Bench;

/// <summary>
/// A console that notes when the Linux guest's shell first prompts: the initrd's "is up" line, then busybox's
/// <c>/ # </c> (which ends no line, so it is matched on the raw bytes, across writes however they are cut).
/// Timed from its creation, just before the machine or its peer starts; <see cref="Prompted"/> fires once.
/// </summary>
public sealed class ShellPromptWatch : Stream
{
    /// <summary>What the initrd's /init prints just before it starts the shell.</summary>
    public const string UpLine = "is up; busybox shell on the console";

    /// <summary>Busybox's prompt for root in /.</summary>
    public const string Prompt = "/ # ";

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _prompted = new();
    private readonly StringBuilder _pending = new();
    private bool _up;

    /// <summary>When the prompt appeared, or null.</summary>
    public TimeSpan? PromptAfter { get; private set; }

    /// <summary>Cancelled when the prompt appears.</summary>
    public CancellationToken Prompted => _prompted.Token;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count)
    {
        if (PromptAfter is not null)
        {
            return;
        }

        _pending.Append(Encoding.Latin1.GetString(buffer, offset, count));
        string text = _pending.ToString();
        if (!_up)
        {
            int up = text.IndexOf(UpLine, StringComparison.Ordinal);
            if (up < 0)
            {
                Keep(text, UpLine.Length - 1);
                return;
            }

            _up = true;
            text = text[(up + UpLine.Length)..];
        }

        if (text.Contains(Prompt, StringComparison.Ordinal))
        {
            PromptAfter = _clock.Elapsed;
            _prompted.Cancel();
            return;
        }

        Keep(text, Prompt.Length - 1);
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _prompted.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>Keeps only the last <paramref name="length"/> characters: a match can start no earlier.</summary>
    private void Keep(string text, int length)
    {
        _pending.Clear();
        _pending.Append(text.Length <= length ? text : text[^length..]);
    }
}
