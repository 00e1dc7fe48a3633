using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Launch;

/// <summary>
/// The launcher never waits on a child for good, and no child outlives it (issue 17, item 9): a stopped CPU
/// process does not wedge a stop, and a launcher killed outright takes every child with it, stopped ones too.
/// Real processes; every child is killed at the end whatever happened.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class LivenessTests
{
    private const int Sigkill = 9, Sigterm = 15, Sigstop = 19;

    /// <summary>`mov dx, 0x3f8; mov al, 'R'; out dx, al; mov al, 10; out dx, al; jmp $`: says it runs on COM1, then spins.</summary>
    private static readonly byte[] s_sayThenSpin = [0x66, 0xBA, 0xF8, 0x03, 0xB0, (byte)'R', 0xEE, 0xB0, 0x0A, 0xEE, 0xEB, 0xFE];

    /// <summary>Starts the default machine with a guest that spins forever; returns once the guest runs (it said so on COM1).</summary>
    private static (SplitEmuProcess Launcher, int Cpu, int Uart) StartSpinningMachine(TempFolder folder, params string[] options)
    {
        string profile = TestMachines.WriteProfile(folder, s_sayThenSpin);
        SplitEmuProcess launcher = SplitEmuProcess.Start(["run", profile, "--report", folder.File("report.json"), .. options]);
        int cpu = 0, uart = 0;
        bool up = ProcessTable.WaitUntil(() =>
        {
            cpu = ProcessTable.Children(launcher.ProcessId, "SplitEmu.CpuHost").FirstOrDefault();
            uart = ProcessTable.Children(launcher.ProcessId, "SplitEmu.DeviceHost").FirstOrDefault();
            return cpu != 0 && uart != 0 && launcher.StandardOutput.Contains("R\n", StringComparison.Ordinal);
        }, TestDeadlines.Seconds(30));
        if (!up)
        {
            string stderr = launcher.StandardError;
            launcher.Dispose(); // kills the launcher, and with it every child
            Assert.Fail($"the machine did not start. stderr:\n{stderr}");
        }

        return (launcher, cpu, uart);
    }

    private static void KillQuietly(params int[] pids)
    {
        foreach (int pid in pids.Where(p => p != 0 && ProcessTable.IsAlive(p)))
        {
            ProcessTable.Signal(pid, Sigkill);
        }
    }

    [Fact]
    public void Sigterm_WhileTheCpuProcessIsStopped_EndsTheRunAnyway_AndSaysWhy()
    {
        using TempFolder folder = new();
        (SplitEmuProcess launcher, int cpu, int uart) = StartSpinningMachine(folder);
        using (launcher)
        {
            try
            {
                ProcessTable.Signal(cpu, Sigstop);
                launcher.Signal(Sigterm);
                launcher.WaitForExit(TestDeadlines.Seconds(60));

                Assert.True(launcher.ExitCode == 130, $"exit {launcher.ExitCode}; stderr:\n{launcher.StandardError}");
                Assert.Contains("did not stop within", SplitEmu.Launch.Reports.RunReport.Read(folder.File("report.json")).Exit.Detail, StringComparison.Ordinal);
                Assert.True(ProcessTable.WaitUntil(() => !ProcessTable.IsAlive(cpu) && !ProcessTable.IsAlive(uart), TestDeadlines.Seconds(10)));
            }
            finally
            {
                KillQuietly(cpu, uart);
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LauncherKilledOutright_TakesEveryChildWithIt(bool cpuStoppedFirst)
    {
        using TempFolder folder = new();
        (SplitEmuProcess launcher, int cpu, int uart) = StartSpinningMachine(folder);
        using (launcher)
        {
            try
            {
                if (cpuStoppedFirst)
                {
                    ProcessTable.Signal(cpu, Sigstop); // a stopped process reacts to nothing but SIGKILL
                }

                launcher.Signal(Sigkill);

                Assert.True(ProcessTable.WaitUntil(() => !ProcessTable.IsAlive(cpu) && !ProcessTable.IsAlive(uart), TestDeadlines.Seconds(10)),
                    $"children outlived their launcher: cpu {cpu} alive={ProcessTable.IsAlive(cpu)}, uart {uart} alive={ProcessTable.IsAlive(uart)}");
            }
            finally
            {
                KillQuietly(cpu, uart);
            }
        }
    }
}
