namespace SplitEmu.Launch.ConsoleInput;

/// <summary>What a key typed at the terminal means once <see cref="ConsoleEscape"/> has seen it.</summary>
public enum EscapeAction
{
    /// <summary>Nothing for the launcher: any forwarded bytes go to the guest.</summary>
    None,

    /// <summary>Ctrl-A X: stop the machine.</summary>
    Quit,

    /// <summary>Ctrl-A H (or ?): print the one-line help.</summary>
    Help,
}

/// <summary>
/// The terminal's escape keys, as QEMU's <c>-serial mon:stdio</c> has them: Ctrl-A X quits, Ctrl-A H prints a
/// help line, Ctrl-A Ctrl-A sends one Ctrl-A. Every other key goes to the guest; so does a Ctrl-A followed by a
/// key that is not a command (both bytes, where QEMU drops them: nothing typed is lost). Only for a terminal:
/// piped input is passed through untouched.
/// </summary>
public sealed class ConsoleEscape
{
    /// <summary>Ctrl-A, the escape key.</summary>
    public const byte EscapeKey = 0x01;

    /// <summary>The help line (without a newline).</summary>
    public const string HelpText =
        "splitemu: Ctrl-A X quit; Ctrl-A H this help; Ctrl-A Ctrl-A send Ctrl-A; every other key, Ctrl-C included, goes to the guest";

    /// <summary>Whether the previous key was a Ctrl-A that has not been resolved yet.</summary>
    private bool _afterEscape;

    /// <summary>
    /// Takes one key; appends what the guest must receive to <paramref name="forward"/> (nothing, the key, or a
    /// held Ctrl-A and the key) and says what the launcher must do.
    /// </summary>
    public EscapeAction Feed(byte key, List<byte> forward)
    {
        if (!_afterEscape)
        {
            if (key == EscapeKey)
            {
                _afterEscape = true; // held until the next key says what it meant
            }
            else
            {
                forward.Add(key);
            }

            return EscapeAction.None;
        }

        _afterEscape = false;
        switch (key)
        {
            case (byte)'x' or (byte)'X':
                return EscapeAction.Quit;
            case (byte)'h' or (byte)'H' or (byte)'?':
                return EscapeAction.Help;
            case EscapeKey:
                forward.Add(EscapeKey);
                return EscapeAction.None;
            default:
                forward.Add(EscapeKey);
                forward.Add(key);
                return EscapeAction.None;
        }
    }
}
