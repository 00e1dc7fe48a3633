using System.Text;
using SplitEmu.Guests;
using SplitEmu.Launch.Reports;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Launch;

/// <summary>
/// Console input end to end with real processes: splitemu's standard input reaches the echo guest through COM1
/// byte for byte (more than the UART's FIFO holds, every byte value), inline, isolated and with the UART's process
/// killed under it; a terminal's Ctrl-A X stops the machine; a console without a receive side says so.
/// </summary>
[Trait("Category", "Slow")] // starts processes: not in the fast tier
public sealed class ConsoleInputRunTests
{
    /// <summary>Copies of the 255 byte values other than the terminator: 4080 bytes, 255 times the FIFO's 16.</summary>
    private const int PasteRepeats = 16;

    private const int EchoExitCode = (EchoGuest.ExitValue << 1) | 1;

    /// <summary>Kill the UART's process every this many accesses (and inputs): about a dozen crashes over the paste.</summary>
    private const int CrashEveryAccesses = 3000;

    private static readonly byte[] s_paste = Enumerable.Repeat(Enumerable.Range(0, 256).Select(b => (byte)b).Where(b => b != EchoGuest.Terminator), PasteRepeats)
        .SelectMany(b => b).ToArray();

    private static readonly byte[] s_echo = s_paste.Select(EchoGuest.Echo).ToArray();

    [Theory]
    [InlineData("inline")]
    [InlineData("isolated")]
    public void PipedPaste_LargerThanTheFifo_ComesBackExact(string placement)
    {
        using TempFolder folder = new();
        string report = folder.File("report.json");
        string profile = TestMachines.WriteProfile(folder, EchoGuest.Build(), placement);

        using SplitEmuProcess run = SplitEmuProcess.StartWithRawOutput("run", profile, "--report", report);
        Type(run, [.. s_paste, EchoGuest.Terminator]);
        run.WaitForExit(TestDeadlines.Seconds(120));

        Assert.True(EchoExitCode == run.ExitCode, run.StandardError);
        Assert.Equal(s_echo, run.StandardOutputBytes);
        Assert.Equal(0, RunReport.Read(report).Devices.Single(d => d.Id == "com1").Accesses.BusErrors);
    }

    [Fact]
    public void PipedPaste_WhileTheUartProcessIsKilledAgainAndAgain_ComesBackExact()
    {
        using TempFolder folder = new();
        string report = folder.File("report.json");
        string profile = TestMachines.WriteProfile(folder, EchoGuest.Build(), "isolated");

        using SplitEmuProcess run = SplitEmuProcess.StartWithRawOutput(
            "run", profile, "--report", report,
            "--set", $"devices.com1.crash.everyAccesses={CrashEveryAccesses}",
            "--set", "devices.com1.whileDown=stall",
            "--set", "devices.com1.restart.maxRestarts=1000",
            "--set", "devices.com1.restart.backoffMs=0");
        Type(run, [.. s_paste, EchoGuest.Terminator]);
        run.WaitForExit(TestDeadlines.Minutes(4));

        Assert.True(EchoExitCode == run.ExitCode, run.StandardError);
        Assert.Equal(s_echo, run.StandardOutputBytes);
        DeviceSection uart = RunReport.Read(report).Devices.Single(d => d.Id == "com1");
        Assert.True(uart.Restarts > 0, "no crash was injected");
        Assert.All(uart.Crashes!, c => Assert.Equal(0, c.Divergences));
        Assert.Equal(0, uart.Accesses.BusErrors);
        Assert.Empty(ProcessTable.Children(run.ProcessId, "SplitEmu"));
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
    }

    [Fact]
    public void EndOfInput_StopsTheFeeding_NotTheMachine()
    {
        using TempFolder folder = new();
        string profile = TestMachines.WriteProfile(folder, EchoGuest.Build(), "inline");

        using SplitEmuProcess run = SplitEmuProcess.StartWithRawOutput("run", profile, "--timeout", "3");
        Type(run, "ab"u8.ToArray());
        run.StandardInput.Close();
        run.WaitForExit(TestDeadlines.Seconds(60));

        Assert.Equal(ExitCodes.Timeout, run.ExitCode);
        Assert.Equal("AB"u8.ToArray(), run.StandardOutputBytes);
    }

    [Fact]
    public void OnATerminal_KeysReachTheGuest_AndCtrlACtrlASendsOneCtrlA()
    {
        using TempFolder folder = new();
        string profile = TestMachines.WriteProfile(folder, EchoGuest.Build(), "inline");

        using SplitEmuProcess run = SplitEmuProcess.StartOnTerminal("run", profile);
        AwaitRawTerminal(run);
        Type(run, [(byte)'h', (byte)'i', 0x03, ConsoleEscapeKey, ConsoleEscapeKey, EchoGuest.Terminator]);
        run.WaitForExit(TestDeadlines.Seconds(60));

        Assert.True(EchoExitCode == run.ExitCode, Encoding.Latin1.GetString(run.StandardOutputBytes));
        Assert.Contains("HI\u0003\u0001", Encoding.Latin1.GetString(run.StandardOutputBytes), StringComparison.Ordinal);
    }

    [Fact]
    public void OnATerminal_CtrlAX_StopsTheMachineAsTheUsersStop()
    {
        using TempFolder folder = new();
        string report = folder.File("report.json");
        string profile = TestMachines.WriteProfile(folder, EchoGuest.Build(), "inline");

        using SplitEmuProcess run = SplitEmuProcess.StartOnTerminal("run", profile, "--report", report);
        AwaitRawTerminal(run);
        Type(run, [ConsoleEscapeKey, (byte)'x']);
        run.WaitForExit(TestDeadlines.Seconds(60));

        Assert.True(ExitCodes.Interrupted == run.ExitCode, Encoding.Latin1.GetString(run.StandardOutputBytes));
        ExitSection exit = RunReport.Read(report).Exit;
        Assert.Equal("stopped", exit.Reason);
        Assert.Equal("stopped by the user (Ctrl-A X)", exit.Detail);
    }

    [Fact]
    public void AConsoleWithoutAReceiveSide_SaysSo_AndTheMachineRunsOn()
    {
        using TempFolder folder = new();
        string image = folder.File("hello.bin");
        File.WriteAllBytes(image, HelloGuest.Build());
        string profile = folder.File("machine.json");
        File.WriteAllText(profile, $$"""
            {
              "schemaVersion": 1,
              "name": "debugcon-console",
              "memory": { "sizeMiB": 16 },
              "load": [ { "file": "{{image}}", "format": "flat", "address": "0x100000" } ],
              "cpu": { "mode": "protected32-flat", "entry": "0x100000", "stack": "0x200000" },
              "console": "dbg",
              "devices": [
                { "id": "com1", "type": "uart16550", "io": "0x3f8", "irq": 4, "placement": "inline" },
                { "id": "dbg", "type": "debugcon", "placement": "inline" },
                { "id": "exit", "type": "debug-exit", "io": "0x501", "placement": "inline" }
              ]
            }
            """);

        using SplitEmuProcess run = SplitEmuProcess.StartWithRawOutput("run", profile);
        Type(run, "ignored"u8.ToArray());
        run.WaitForExit(TestDeadlines.Seconds(60));

        Assert.Equal((HelloGuest.ExitValue << 1) | 1, run.ExitCode);
        Assert.Contains("console 'dbg' (debugcon) takes no input", run.StandardError, StringComparison.Ordinal);
    }

    private const byte ConsoleEscapeKey = 0x01;

    /// <summary>Keys typed before the launcher made the terminal raw would be cooked (0x03 a SIGINT, 0x04 an end of file).</summary>
    private static void AwaitRawTerminal(SplitEmuProcess run) =>
        Assert.True(run.WaitForOutput("is on this terminal", TestDeadlines.Seconds(60)), Encoding.Latin1.GetString(run.StandardOutputSoFar));

    private static void Type(SplitEmuProcess run, byte[] keys)
    {
        run.StandardInput.Write(keys);
        run.StandardInput.Flush();
    }
}
