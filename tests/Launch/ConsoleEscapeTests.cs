using SplitEmu.Launch.ConsoleInput;

namespace SplitEmu.Tests.Launch;

/// <summary>The terminal's Ctrl-A escape: commands for the launcher, every other key for the guest.</summary>
public sealed class ConsoleEscapeTests
{
    private const byte CtrlA = ConsoleEscape.EscapeKey;
    private const byte CtrlC = 0x03;

    private readonly ConsoleEscape _escape = new();
    private readonly List<byte> _forward = [];

    [Theory]
    [InlineData((byte)'x')]
    [InlineData((byte)'X')]
    public void CtrlAThenX_Quits_AndSendsNothing(byte key)
    {
        Assert.Equal(EscapeAction.None, _escape.Feed(CtrlA, _forward));

        Assert.Equal(EscapeAction.Quit, _escape.Feed(key, _forward));
        Assert.Empty(_forward);
    }

    [Theory]
    [InlineData((byte)'h')]
    [InlineData((byte)'H')]
    [InlineData((byte)'?')]
    public void CtrlAThenH_AsksForHelp_AndSendsNothing(byte key)
    {
        _escape.Feed(CtrlA, _forward);

        Assert.Equal(EscapeAction.Help, _escape.Feed(key, _forward));
        Assert.Empty(_forward);
    }

    [Fact]
    public void CtrlATwice_SendsOneCtrlA()
    {
        _escape.Feed(CtrlA, _forward);

        Assert.Equal(EscapeAction.None, _escape.Feed(CtrlA, _forward));
        Assert.Equal([CtrlA], _forward);
    }

    [Fact]
    public void CtrlAThenAnotherKey_SendsBoth()
    {
        _escape.Feed(CtrlA, _forward);

        Assert.Equal(EscapeAction.None, _escape.Feed((byte)'q', _forward));
        Assert.Equal([CtrlA, (byte)'q'], _forward);
    }

    [Fact]
    public void OrdinaryKeys_AndCtrlC_GoToTheGuestAsTyped()
    {
        foreach (byte key in new[] { (byte)'l', (byte)'s', CtrlC, (byte)'\r', (byte)'x' })
        {
            Assert.Equal(EscapeAction.None, _escape.Feed(key, _forward));
        }

        Assert.Equal([(byte)'l', (byte)'s', CtrlC, (byte)'\r', (byte)'x'], _forward);
    }

    [Fact]
    public void AfterACommand_KeysGoToTheGuestAgain()
    {
        _escape.Feed(CtrlA, _forward);
        _escape.Feed((byte)'h', _forward);

        Assert.Equal(EscapeAction.None, _escape.Feed((byte)'x', _forward));
        Assert.Equal([(byte)'x'], _forward);
    }
}
