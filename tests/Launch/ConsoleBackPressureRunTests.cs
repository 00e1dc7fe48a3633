using SplitEmu.Launch.Reports;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Launch;

/// <summary>
/// Console output back-pressure end to end, with real processes: a guest floods COM1 (isolated) with more than
/// the stdout pipe, the launcher's console queue and the device process's unacknowledged window hold together;
/// while nobody reads splitemu's standard output, the guest is held back as a serial line's flow control would
/// hold it, for longer than the UART's access timeout, and once reading resumes every byte arrives in order, no
/// device is blamed and the machine ends as the guest asked. A stop while nobody reads still stops.
/// </summary>
[Trait("Category", "Slow")] // starts processes: not in the fast tier
public sealed class ConsoleBackPressureRunTests
{
    /// <summary>Short, so a wait for the reader that reached the UART as a hung access would fail the test quickly.</summary>
    private const int UartAccessTimeoutMs = 500;

    private const int FloodExitCode = (ConsoleFloodGuest.ExitValue << 1) | 1;

    [Fact]
    public async Task AReaderThatStopsReading_HoldsTheGuestBack_AndLosesNoByte_AndNoDeviceIsBlamed()
    {
        using TempFolder folder = new();
        string report = folder.File("report.json");
        using SplitEmuProcess run = StartFlood(folder, "--report", report);

        Assert.True(run.WaitForOutputPipeFull(TestDeadlines.Seconds(60)), $"standard output never filled its pipe (exit: {run.HasExited}):\n{run.StandardError}");
        // From here the launcher's console queue fills, then the device process's window, then the UART's FIFO:
        // stay paused for several of the UART's access timeouts.
        await Task.Delay(4 * UartAccessTimeoutMs);
        Assert.False(run.HasExited, $"the machine ended while its console was not read:\n{run.StandardError}");

        run.ResumeReadingOutput();
        run.WaitForExit(TestDeadlines.Minutes(2));

        Assert.True(FloodExitCode == run.ExitCode, $"exit {run.ExitCode}:\n{run.StandardError}");
        byte[] output = run.StandardOutputBytes;
        byte[] expected = ConsoleFloodGuest.Expected();
        int firstWrong = Enumerable.Range(0, Math.Min(output.Length, expected.Length)).FirstOrDefault(i => output[i] != expected[i], -1);
        Assert.True(output.Length == expected.Length && firstWrong < 0,
            $"{output.Length} of {expected.Length} bytes came out; first wrong byte at {firstWrong}");
        DeviceSection uart = RunReport.Read(report).Devices.Single(d => d.Id == "com1");
        Assert.Equal(0, uart.Restarts); // waiting for the reader is not a hang of the device
        Assert.Equal(0, uart.Accesses.BusErrors);
    }

    [Fact]
    public void AStopWhileNobodyReadsTheConsole_StillStopsTheMachine()
    {
        using TempFolder folder = new();
        using SplitEmuProcess run = StartFlood(folder);
        Assert.True(run.WaitForOutputPipeFull(TestDeadlines.Seconds(60)), $"standard output never filled its pipe:\n{run.StandardError}");

        IReadOnlyList<int> children = ProcessTable.Children(run.ProcessId, "SplitEmu");
        Assert.NotEmpty(children);
        run.Signal(ProcessTable.SigTerm);
        run.WaitForExit(TestDeadlines.Seconds(60)); // the last bytes get a bounded time, then the launcher goes

        Assert.True(ProcessTable.WaitUntil(() => !children.Any(ProcessTable.IsAlive), TestDeadlines.Seconds(10)),
            $"left running: {string.Join(", ", children.Where(ProcessTable.IsAlive))}");
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.ProcessId));
    }

    private static SplitEmuProcess StartFlood(TempFolder folder, params string[] options)
    {
        string profile = TestMachines.WriteProfile(folder, ConsoleFloodGuest.Build(), "isolated");
        SplitEmuProcess run = SplitEmuProcess.StartWithRawOutput(
            ["run", profile, "--set", $"devices.com1.accessTimeoutMs={UartAccessTimeoutMs}", .. options]);
        run.PauseReadingOutput();
        return run;
    }
}
