using System.Text.RegularExpressions;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Monitor;

/// <summary>
/// `info stats` tells the same story as the run report: an isolated UART that prints shows its output bytes
/// (they reach the launcher directly, not through the CPU process), and its access counts survive a restart.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed partial class MonitorCountersTests
{
    /// <summary>Prints "x\n" to COM1 forever: mov edx, 0x3F8; again: mov al, 'x'; out dx, al; mov al, 10; out dx, al; jmp again.</summary>
    private static readonly byte[] s_printForever = [0xBA, 0xF8, 0x03, 0x00, 0x00, 0xB0, 0x78, 0xEE, 0xB0, 0x0A, 0xEE, 0xEB, 0xF8];

    [Fact]
    public void IsolatedUart_ShowsItsOutputBytes_AndKeepsItsCountsAcrossARestart()
    {
        using MonitoredMachine machine = new(guest: s_printForever);

        (long writes, long output) before = (0, 0);
        Assert.True(ProcessTable.WaitUntil(() => (before = Com1(machine.MonitorOk("info stats"))).output > 0, TestDeadlines.Seconds(30)),
            "info stats showed no output bytes for an isolated UART that prints all the time");
        Assert.True(before.writes > 0);

        machine.MonitorOk("crash com1");
        Assert.True(ProcessTable.WaitUntil(() => Epoch(machine.MonitorOk("info devices")) >= 1, TestDeadlines.Seconds(30)), "com1 was not restarted");

        (long writes, long output) after = Com1(machine.MonitorOk("info stats"));
        Assert.True(after.writes >= before.writes, $"com1's writes went from {before.writes} to {after.writes} across its restart");
        Assert.True(after.output >= before.output, $"com1's output bytes went from {before.output} to {after.output}");
    }

    /// <summary>com1's writes and output-bytes columns of `info stats`.</summary>
    private static (long Writes, long Output) Com1(string stats)
    {
        Match row = Com1Row().Match(stats);
        Assert.True(row.Success, $"no com1 row in:\n{stats}");
        return (long.Parse(row.Groups["writes"].Value.Replace(",", "", StringComparison.Ordinal)), long.Parse(row.Groups["output"].Value.Replace(",", "", StringComparison.Ordinal)));
    }

    private static int Epoch(string devices) => EpochOfCom1().Match(devices) is { Success: true } m ? int.Parse(m.Groups[1].Value) : -1;

    [GeneratedRegex(@"^com1\s+(?<reads>[\d,]+)\s+(?<writes>[\d,]+)\s+(?<errors>[\d,]+)\s+(?<output>[\d,]+)", RegexOptions.Multiline)]
    private static partial Regex Com1Row();

    [GeneratedRegex(@"^com1\s+uart16550\s+isolated\s+\d+\s+(\d+)", RegexOptions.Multiline)]
    private static partial Regex EpochOfCom1();
}
