using System.Text.RegularExpressions;

namespace SplitEmu.Tests.Monitor;

/// <summary>`info cpus` on a two-vCPU machine whose guest never starts its application processor.</summary>
[Trait("Category", "Slow")] // starts processes
public sealed class MonitorCpusTests
{
    [Fact]
    public void InfoCpus_ShowsEachVcpu_TheApWaitingForItsStartupIpi()
    {
        using MonitoredMachine machine = new(settings: ["cpu.count=2"]); // the spin-forever guest sends no IPI

        string running = machine.MonitorOk("info cpus");
        string paused = machine.MonitorOk("pause; info cpus; info cpus; resume");

        Assert.Contains("machine: running", running);
        Assert.Matches(new Regex(@"^0\s+running\s+0x[0-9a-f]+\s+[\d,]+$", RegexOptions.Multiline), running);
        // An AP at power-on: the reset vector, no instruction run.
        Assert.Matches(new Regex(@"^1\s+waiting-for-startup\s+0xfffffff0\s+0$", RegexOptions.Multiline), running);
        // Parked, the counts are exact: two looks in a row agree.
        MatchCollection bsp = new Regex(@"^0\s+running\s+(0x[0-9a-f]+)\s+([\d,]+)$", RegexOptions.Multiline).Matches(paused);
        Assert.Equal(2, bsp.Count);
        Assert.Equal(bsp[0].Groups[2].Value, bsp[1].Groups[2].Value);
        Assert.Contains("machine: paused", paused);
    }
}
