using SplitEmu.Launch.Supervision;

namespace SplitEmu.Tests.Launch;

/// <summary>Launcher messages start on a line of their own when the guest's console is mid-line.</summary>
public sealed class LineBoundaryLogTests
{
    [Fact]
    public void Message_AfterTheConsoleStoppedMidLine_StartsOnANewLine()
    {
        using StringWriter screen = new();
        using LineBoundaryLog log = new(screen, consoleMidLine: () => true);

        log.WriteLine("splitemu: device process 'com1' exited");

        Assert.Equal("\nsplitemu: device process 'com1' exited\n", screen.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Message_AfterACompleteConsoleLine_GetsNoBlankLine()
    {
        using StringWriter screen = new();
        using LineBoundaryLog log = new(screen, consoleMidLine: () => false);

        log.WriteLine("one");
        log.WriteLine("two");

        Assert.Equal("one\ntwo\n", screen.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void AMessageWrittenInPieces_IsNotBrokenByTheConsoleInBetween()
    {
        using StringWriter screen = new();
        bool consoleMidLine = true;
        using LineBoundaryLog log = new(screen, () => consoleMidLine);

        log.Write("splitemu: ");
        log.Write("restarting");
        log.WriteLine();

        Assert.Equal("\nsplitemu: restarting\n", screen.ToString().ReplaceLineEndings("\n"));
    }
}
