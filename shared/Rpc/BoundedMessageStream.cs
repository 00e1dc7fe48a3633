using System.Text;

namespace SplitEmu.Shared.Rpc;

/// <summary>
/// A connection from an untrusted peer (a monitor client, a child process) as the JSON-RPC reader sees it,
/// with the peer's messages bounded: it follows the header-delimited framing (<c>Content-Length: N</c>, a blank
/// line, N bytes) as bytes pass and fails the read, which ends the connection, as soon as a message grows
/// beyond the limit — before the reader has buffered it. It also knows when the peer last completed a
/// message, for idle timeouts.
/// </summary>
/// <param name="inner">The connection.</param>
/// <param name="maxRequestBytes">Largest message, headers and body.</param>
/// <param name="peer">Who is at the other end, for the error message ("monitor client").</param>
public sealed class BoundedMessageStream(Stream inner, int maxRequestBytes, string peer) : Stream
{
    private static readonly byte[] s_headerEnd = "\r\n\r\n"u8.ToArray();

    /// <summary>Header bytes of the request being received (bounded by the limit).</summary>
    private readonly MemoryStream _header = new();

    /// <summary>Body bytes still to come of the request being received; -1 while its headers are being read.</summary>
    private long _bodyLeft = -1;

    /// <summary>Environment.TickCount64 when the last request was complete (or the connection opened).</summary>
    private long _lastCompleteTicks = Environment.TickCount64;

    /// <summary>Why the connection was ended, once it was.</summary>
    public string? Violation { get; private set; }

    /// <summary>How long since the client last completed a request (or connected).</summary>
    public TimeSpan SinceLastCompleteRequest => TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastCompleteTicks));

    /// <inheritdoc/>
    public override bool CanRead => true;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => true;

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        int read = inner.Read(buffer);
        Inspect(buffer[..read]);
        return read;
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Inspect(buffer.Span[..read]);
        return read;
    }

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer, offset, count, cancellationToken);

    /// <inheritdoc/>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(buffer, cancellationToken);

    /// <inheritdoc/>
    public override void Flush() => inner.Flush();

    /// <inheritdoc/>
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            _header.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>Follows the framing over bytes just read; throws if a request exceeds the limit.</summary>
    private void Inspect(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            if (_bodyLeft >= 0)
            {
                int body = (int)Math.Min(_bodyLeft, bytes.Length);
                _bodyLeft -= body;
                bytes = bytes[body..];
                if (_bodyLeft == 0)
                {
                    _bodyLeft = -1;
                    Volatile.Write(ref _lastCompleteTicks, Environment.TickCount64);
                }

                continue;
            }

            // Headers: one byte at a time is fine, they are a few dozen bytes per request.
            _header.WriteByte(bytes[0]);
            bytes = bytes[1..];
            if (_header.Length > maxRequestBytes)
            {
                Fail($"sent more than {maxRequestBytes} bytes of headers");
            }

            if (_header.Length >= s_headerEnd.Length && _header.GetBuffer().AsSpan((int)_header.Length - s_headerEnd.Length, s_headerEnd.Length).SequenceEqual(s_headerEnd))
            {
                long length = ContentLength(_header.GetBuffer().AsSpan(0, (int)_header.Length));
                if (length < 0 || _header.Length + length > maxRequestBytes)
                {
                    Fail(length < 0 ? "sent a request without a valid Content-Length" : $"sent a request of {_header.Length + length} bytes; the limit is {maxRequestBytes}");
                }

                _header.SetLength(0);
                _bodyLeft = length;
                if (length == 0)
                {
                    _bodyLeft = -1;
                    Volatile.Write(ref _lastCompleteTicks, Environment.TickCount64);
                }
            }
        }
    }

    /// <summary>The Content-Length of a header block, or -1 if it has none or a malformed one.</summary>
    private static long ContentLength(ReadOnlySpan<byte> header)
    {
        foreach (string line in Encoding.ASCII.GetString(header).Split("\r\n"))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                return long.TryParse(line[(colon + 1)..].Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long length) ? length : -1;
            }
        }

        return -1;
    }

    private void Fail(string why)
    {
        Violation = why;
        throw new IOException($"{peer} {why}");
    }
}
