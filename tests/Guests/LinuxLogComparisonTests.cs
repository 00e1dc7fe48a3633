namespace SplitEmu.Tests.Guests;

/// <summary>The kernel-log normalisation the QEMU differential relies on, on lines of a real boot.</summary>
public sealed class LinuxLogComparisonTests
{
    [Theory]
    [InlineData("[    2.151200] hrtimer: interrupt took 8184893 ns")]
    [InlineData("[    0.912000] pci 0000:00:01.0: quirk_passive_release+0x0/0x90 took 12695 usecs")]
    [InlineData("[    3.402113] clocksource: Long readout interval, skipping watchdog check: cs_nsec: 1175526829 wd_nsec: 1175528000")]
    public void HostTimingLines_AreDropped_OnEitherMachine_WithoutCountingAsNeededRules(string line)
    {
        foreach (bool fromQemu in new[] { true, false })
        {
            HashSet<string> forgiven = [];
            (List<string> ordered, List<string> floating) = LinuxLogComparison.Normalize($"[    0.100000] NET: Registered PF_UNIX/PF_LOCAL protocol family\n{line}\n", fromQemu, forgiven);

            Assert.Equal(["NET: Registered PF_UNIX/PF_LOCAL protocol family"], ordered);
            Assert.Empty(floating);
            Assert.Empty(forgiven);
        }
    }

    [Fact]
    public void QemusFailedPmTimerCheck_ReadsAsTheRegistrationOursMakes_ButOnlyOnQemusSide()
    {
        const string Failed = "[    1.020000] PM-Timer running at invalid rate: 106% of normal - aborting.";
        HashSet<string> forgiven = [];
        (List<string> qemu, _) = LinuxLogComparison.Normalize(Failed, fromQemu: true, forgiven);
        (List<string> ours, _) = LinuxLogComparison.Normalize(Failed, fromQemu: false, forgiven);

        Assert.Equal(["clocksource: acpi_pm: mask: 0xffffff max_cycles: 0xffffff, max_idle_ns: 2085701024 ns"], qemu);
        Assert.Equal(["PM-Timer running at invalid rate: 106% of normal - aborting."], ours); // ours must pass the check
        Assert.Empty(forgiven);
    }

    [Fact]
    public void AnUnknownLine_IsKept_WithoutItsTimestamp()
    {
        HashSet<string> forgiven = [];
        (List<string> ordered, _) = LinuxLogComparison.Normalize("[   12.000001] rcu: INFO: rcu_sched self-detected stall on CPU\n", fromQemu: false, forgiven);

        Assert.Equal(["rcu: INFO: rcu_sched self-detected stall on CPU"], ordered);
    }
}
