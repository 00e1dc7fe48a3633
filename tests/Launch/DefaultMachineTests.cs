using SplitEmu.Guests;
using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Launch;

/// <summary>The built-in default machine, run as a user runs it: real launcher, CPU and device processes.</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class DefaultMachineTests(DefaultMachineFixture run) : IClassFixture<DefaultMachineFixture>
{
    /// <summary>The value the default guest writes to the debug-exit port, turned into an exit code as QEMU does.</summary>
    private const int ExpectedExitCode = (HelloGuest.ExitValue << 1) | 1;

    [Fact]
    public void DefaultMachine_PrintsGreetingAndTableChecksum_OnTheConsole()
    {
        string expected = $"Hello from SplitEmu\nChecksum: 0x{Crc32Ieee(HelloGuest.Table):X8}\n";

        Assert.Equal(expected, run.StandardOutput);
    }

    [Fact]
    public void DefaultMachine_ExitsWithTheGuestsDebugExitCode()
    {
        Assert.Equal(ExpectedExitCode, run.ExitCode);
    }

    [Fact]
    public void Report_SaysTheGuestEndedTheMachine()
    {
        RunReport report = RequireReport();

        Assert.Equal("guest-exit", report.Exit.Reason);
        Assert.Equal(ExpectedExitCode, report.Exit.Code);
        Assert.Equal(HelloGuest.ExitValue, report.Exit.GuestValue);
        Assert.True(report.Instructions > 0, "the report must count the instructions executed");
    }

    [Fact]
    public void Uart_RunsIsolated_InAProcessOtherThanTheCpus()
    {
        RunReport report = RequireReport();
        DeviceSection uart = report.Devices.Single(d => d.Id == "com1");

        Assert.Equal("isolated", uart.Placement);
        Assert.NotEqual(0, uart.ProcessId);
        Assert.NotEqual(report.CpuProcessId, uart.ProcessId);
        Assert.NotEqual(run.LauncherPid, uart.ProcessId);
    }

    [Fact]
    public void DebugExit_RunsInline_InTheCpuProcess()
    {
        RunReport report = RequireReport();
        DeviceSection exit = report.Devices.Single(d => d.Id == "exit");

        Assert.Equal("inline", exit.Placement);
        Assert.Equal(report.CpuProcessId, exit.ProcessId);
        Assert.Equal(1, exit.Accesses.Writes);
    }

    [Fact]
    public void UartWrites_InTheReport_MatchTheBytesPrinted()
    {
        RunReport report = RequireReport();
        DeviceSection uart = report.Devices.Single(d => d.Id == "com1");
        int printed = System.Text.Encoding.ASCII.GetByteCount(run.StandardOutput);

        // One THR write per byte printed; at least one line-status poll before each byte.
        Assert.Equal(printed, uart.Accesses.Writes);
        Assert.True(uart.Accesses.Reads >= printed, $"expected at least {printed} line-status reads, saw {uart.Accesses.Reads}");
        Assert.Equal(printed, uart.OutputBytes);
    }

    [Fact]
    public void AfterTheMachineEnds_NoChildProcessOrSharedMemoryFileIsLeft()
    {
        RunReport report = RequireReport();

        Assert.All(report.Devices, d => Assert.False(ProcessTable.IsAlive(d.ProcessId), $"device {d.Id} process {d.ProcessId} still runs"));
        Assert.False(ProcessTable.IsAlive(report.CpuProcessId), "the CPU process still runs");
        Assert.Empty(ProcessTable.SharedMemoryFilesOf(run.LauncherPid));
    }

    private RunReport RequireReport() =>
        run.Report ?? throw new Xunit.Sdk.XunitException($"no report was written (exit {run.ExitCode}). stderr:\n{run.StandardError}");

    /// <summary>CRC-32 (IEEE 802.3, reflected), computed here independently of the guest.</summary>
    internal static uint Crc32Ieee(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
        }

        return ~crc;
    }
}
