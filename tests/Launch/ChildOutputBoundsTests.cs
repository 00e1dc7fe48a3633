using System.Diagnostics;
using System.Text;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Tests.Launch;

/// <summary>
/// What a child writes cannot make the launcher hold unbounded memory: its output lines are cut at
/// <see cref="BoundedLineReader.MaxLineBytes"/>, and its control messages are bounded like a monitor client's.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class ChildOutputBoundsTests
{
    /// <summary>Length of the child's line without a newline: several times the limit.</summary>
    private const int HugeLineBytes = 5 * BoundedLineReader.MaxLineBytes;

    [Fact]
    public async Task ChildWritingAHugeLineWithoutNewline_IsCutAtTheLimit_WithAMarker()
    {
        ProcessStartInfo info = new("/bin/sh") { RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"echo first >&2; head -c {HugeLineBytes} /dev/zero | tr '\\0' x >&2");
        using Process child = Process.Start(info) ?? throw new InvalidOperationException("could not start /bin/sh");
        List<string> lines = [];
        try
        {
            await BoundedLineReader.ReadLinesAsync(child.StandardError.BaseStream, lines.Add);
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
            }

            await child.WaitForExitAsync();
        }

        Assert.Equal(2, lines.Count);
        Assert.Equal("first", lines[0]);
        Assert.Equal(new string('x', BoundedLineReader.MaxLineBytes) + "… (line cut at 65536 bytes)", lines[1]);
    }

    [Fact]
    public async Task LinesAfterACutLine_AreKept_AndCarriageReturnsDropped()
    {
        byte[] output = Encoding.UTF8.GetBytes(new string('y', 10) + "\r\nnext\n");
        List<string> lines = [];

        await BoundedLineReader.ReadLinesAsync(new MemoryStream(output), lines.Add, maxLineBytes: 4);

        Assert.Equal(["yyyy… (line cut at 4 bytes)", "next"], lines);
    }

    [Fact]
    public async Task ControlMessageLargerThanTheLimit_EndsTheConnection_BeforeItIsBuffered()
    {
        byte[] header = Encoding.ASCII.GetBytes($"Content-Length: {ChildProcess.MaxMessageBytes}\r\n\r\n");
        using BoundedMessageStream stream = new(new MemoryStream(header), ChildProcess.MaxMessageBytes, "com1 (pid 42)");

        IOException refused = await Assert.ThrowsAsync<IOException>(async () => await stream.ReadExactlyAsync(new byte[header.Length]));

        Assert.Equal($"com1 (pid 42) sent a request of {ChildProcess.MaxMessageBytes + header.Length} bytes; the limit is {ChildProcess.MaxMessageBytes}", refused.Message);
    }
}
