namespace SplitEmu.Tests.Infrastructure;

/// <summary>
/// A shell on a guest's serial console, typed into through splitemu's standard input. Each command is framed
/// by two echo lines whose text the shell computes (<c>$((n+1))</c>), so the terminal's echo of the typed line
/// never looks like the frame, and the command's output is what lies between them.
/// </summary>
public sealed class LinuxConsole(SplitEmuProcess splitemu)
{
    private int _commands;

    /// <summary>
    /// Waits until the console has printed <paramref name="text"/> <paramref name="times"/> times (a second boot prints
    /// its banner again); fails the test with the output if it does not.
    /// </summary>
    public void WaitFor(string text, TimeSpan deadline, int times = 1)
    {
        bool seen = ProcessTable.WaitUntil(() => Occurrences(splitemu.StandardOutput, text) >= times, deadline);
        Assert.True(seen, $"the console did not print \"{text}\" {times} time(s) within {deadline.TotalSeconds:F0} s.\nstdout:\n{Tail(splitemu.StandardOutput)}\nstderr:\n{Tail(splitemu.StandardError)}");
    }

    private static int Occurrences(string text, string value)
    {
        int count = 0;
        for (int at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>Types <paramref name="command"/> and returns its output (stdout and stderr of the shell, lines joined with \n).</summary>
    public string Run(string command, TimeSpan deadline)
    {
        int id = 1000 + 2 * ++_commands;
        Type(Framed(id, command) + "\n");
        string output = "";
        bool done = ProcessTable.WaitUntil(() => TryExtract(splitemu.StandardOutput, id, out output), deadline);
        Assert.True(done, $"`{command}` did not finish within {deadline.TotalSeconds:F0} s.\nstdout:\n{Tail(splitemu.StandardOutput)}\nstderr:\n{Tail(splitemu.StandardError)}");
        return output;
    }

    /// <summary>The line to type for <paramref name="command"/>, framed by echo lines numbered from <paramref name="id"/>.</summary>
    public static string Framed(int id, string command) => $"echo @@$(({id - 1}+1))@@; {command} 2>&1; echo @@$(({id}+1))@@";

    /// <summary>The output of the command typed as <see cref="Framed"/> with <paramref name="id"/>, once the console holds all of it.</summary>
    public static bool TryExtract(string console, int id, out string output)
    {
        string begin = $"@@{id}@@", end = $"@@{id + 1}@@";
        output = "";
        string[] lines = console.Split('\n');
        int first = Array.FindIndex(lines, l => l.Trim() == begin);
        if (first < 0)
        {
            return false;
        }

        int last = Array.FindIndex(lines, first + 1, l => l.Trim() == end);
        if (last < 0)
        {
            return false;
        }

        output = string.Join("\n", lines[(first + 1)..last].Select(l => l.TrimEnd('\r')));
        return true;
    }

    /// <summary>Types <paramref name="text"/> at the console (splitemu's standard input).</summary>
    public void Type(string text)
    {
        splitemu.StandardInput.Write(System.Text.Encoding.UTF8.GetBytes(text));
        splitemu.StandardInput.Flush();
    }

    private static string Tail(string text) => text.Length <= 6000 ? text : "..." + text[^6000..];
}
