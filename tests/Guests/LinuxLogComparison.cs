using System.Text.RegularExpressions;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// Turns the kernel log (<c>dmesg</c>) of Debian's 686 kernel into the lines a differential run compares with
/// QEMU's. The same kernel, initrd, command line and disk boot on both, but the machines differ in known ways:
/// QEMU's direct boot runs SeaBIOS first, whose tables describe hardware ours leaves out (a local APIC and
/// I/O APIC, an HPET, a PIIX4 power-management function, PCI interrupt links, a second hot-pluggable CPU) and
/// put the ACPI tables at the top of RAM, while our loader puts them in the BIOS area. Each rule names its
/// reason; any other difference is a difference in what the kernel found or did, and fails the comparison. The
/// rules rewrite QEMU's lines into ours where the difference is a value (so ours is still checked exactly),
/// and are exact for the 256 MiB machine of profiles/linux.json.
/// </summary>
internal static partial class LinuxLogComparison
{
    /// <summary>A line rule: lines matching <paramref name="Pattern"/> are dropped (null replacement) or rewritten.</summary>
    private sealed record Rule(Regex Pattern, string? Replacement, string Why);

    private const string AcpiAtTopOfRam = "SeaBIOS puts its ACPI tables in the top 128 KiB of RAM and reserves them; ours are in the BIOS area, so RAM runs to 256 MiB";
    private const string NoSeaBiosRom = "QEMU maps SeaBIOS's ROM below 4 GiB and reserves it; a directly booted machine of ours runs no firmware";
    private const string SecondCpu = "QEMU's MADT lists a second, hot-pluggable CPU; ours has no MADT (one CPU, no APIC)";
    private const string NoMpTable = "no MP table (SeaBIOS writes one on QEMU, which the kernel then rejects)";
    private const string NoHpet = "no HPET";
    private const string NoPiix4Pm = "no PIIX4 power-management function (00:01.3): our acpi-pm is the bare PM1/PM-timer block";
    private const string NoFloppy = "QEMU's pc machine has a floppy controller (pnp 00:02, DMA 2), ours none: QEMU's later PNP devices number one higher";
    private const string NoInterruptLinks = "no PCI interrupt links: SeaBIOS routes them to IRQ 10/11 and marks those level in the ELCR; the IDE is in legacy mode on ours";

    /// <summary>What only QEMU's machine prints, or prints differently, because of hardware or firmware ours does not have.</summary>
    private static readonly Rule[] s_qemuOnly =
    [
        new(new(@"^BIOS-e820: \[mem 0x000000000009fc00-0x000000000009ffff\] reserved$"), "BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved", "ours reserves the legacy hole 0x9FC00-0xFFFFF in one entry"),
        new(new(@"^BIOS-e820: \[mem 0x00000000000f0000-0x00000000000fffff\] reserved$"), null, "ours reserves the legacy hole 0x9FC00-0xFFFFF in one entry"),
        new(new(@"^(BIOS-e820: \[mem 0x0000000000100000-)0x000000000ffdffff(\] usable)$"), "${1}0x000000000fffffff$2", AcpiAtTopOfRam),
        new(new(@"^BIOS-e820: \[mem 0x000000000ffe0000-0x000000000fffffff\] reserved$"), null, AcpiAtTopOfRam),
        new(new(@"^BIOS-e820: \[mem 0x00000000fffc0000-0x00000000ffffffff\] reserved$"), null, NoSeaBiosRom),
        new(new(@"^SMBIOS 2\.8 present\.$"), null, "no SMBIOS tables (SeaBIOS writes them on QEMU)"),
        new(new(@"^DMI: QEMU Standard PC .*$"), "DMI not present or invalid.", "no SMBIOS tables (SeaBIOS writes them on QEMU)"),
        new(new(@"^last_pfn = 0xffe0 "), "last_pfn = 0x10000 ", AcpiAtTopOfRam),
        new(new(@"^found SMP MP-table at "), null, NoMpTable),
        new(new(@"^RAMDISK: \[mem 0x0fbfa000-0x0ffdffff\]$"), "RAMDISK: [mem 0x0fc1a000-0x0fffffff]", AcpiAtTopOfRam),
        new(new(@"^ACPI: (APIC|HPET|WAET) 0x"), null, "no MADT, HPET or WAET table"),
        new(new(@"^ACPI: Reserving (APIC|HPET|WAET) table memory"), null, "no MADT, HPET or WAET table"),
        new(new(@"^255MB LOWMEM available\.$"), "256MB LOWMEM available.", AcpiAtTopOfRam),
        new(new(@"^(  (mapped )?low ram: 0 - )0ffe0000$"), "${1}10000000", AcpiAtTopOfRam),
        new(new(@"^(  Normal   \[mem 0x0000000001000000-)0x000000000ffdffff\]$"), "${1}0x000000000fffffff]", AcpiAtTopOfRam),
        new(new(@"^(  node   0: \[mem 0x0000000000100000-)0x000000000ffdffff\]$"), "${1}0x000000000fffffff]", AcpiAtTopOfRam),
        new(new(@"^(Initmem setup node 0 \[mem 0x0000000000001000-)0x000000000ffdffff\]$"), "${1}0x000000000fffffff]", AcpiAtTopOfRam),
        new(new(@"^Built 1 zonelists, mobility grouping on\.  Total pages: 64766$"), "Built 1 zonelists, mobility grouping on.  Total pages: 64798", AcpiAtTopOfRam),
        new(new(@"^Memory: 238604K/261624K available (.*), 23020K reserved,"), "Memory: 238876K/261752K available $1, 22876K reserved,", AcpiAtTopOfRam),
        new(new(@"^e820: reserve RAM buffer \[mem 0x0ffe0000-0x0fffffff\]$"), null, AcpiAtTopOfRam),
        new(new(@"^\[mem 0x10000000-0xfffbffff\] available for PCI devices$"), "[mem 0x10000000-0xffffffff] available for PCI devices", NoSeaBiosRom),
        new(new(@"^ACPI: HPET id: "), null, NoHpet),
        new(new(@"^(Intel MultiProcessor Specification v1\.4|    Virtual Wire compatibility mode\.|MPTABLE: .*|IOAPIC\[0\]: .*|BIOS bug, MP table errors detected!\.\.\.|\.\.\. disabling SMP support\. \(tell your hw vendor\))$"), null, NoMpTable),
        new(new(@"^smpboot: Allowing 2 CPUs, 1 hotplug CPUs$"), "smpboot: Allowing 1 CPUs, 0 hotplug CPUs", SecondCpu),
        new(new(@"^(setup_percpu: NR_CPUS:32 nr_cpumask_bits:)2 nr_cpu_ids:2 "), "${1}1 nr_cpu_ids:1 ", SecondCpu),
        new(new(@"^pcpu-alloc: \[0\] 0 \[0\] 1 $"), "pcpu-alloc: [0] 0 ", SecondCpu),
        new(new(@"^(SLUB: .*)CPUs=2, "), "${1}CPUs=1, ", SecondCpu),
        new(new(@"^(rcu: .*nr_cpu_ids)=2"), "$1=1", SecondCpu),
        new(new(@"^smpboot: Max logical packages: 2$"), "smpboot: Max logical packages: 1", SecondCpu),
        new(new(@"^NR_IRQS: 2304, nr_irqs: 440, "), "NR_IRQS: 2304, nr_irqs: 32, ", "an I/O APIC's 24 inputs (and a second CPU) size the interrupt table on QEMU"),
        new(new(@"^Console: colour \*CGA 80x25$"), "Console: colour dummy device 80x25", "SeaBIOS reports a VGA text screen in boot_params; ours reports none (no VGA)"),
        new(new(@"^ACPI: setting ELCR to 0200 \(from 0c00\)$"), "ACPI: setting ELCR to 0200 (from 0000)", NoInterruptLinks),
        new(new(@"^ACPI: PCI: Interrupt link LNK[A-DS] configured for IRQ \d+$"), null, NoInterruptLinks),
        new(new(@"^(clocksource: hpet: .*|hpet: .*|hpet0: .*)$"), null, NoHpet),
        new(new(@"^(Last level iTLB entries: )4KB 0, 2MB 0, 4MB 0$"), "${1}4KB 32, 2MB 0, 4MB 2", "CPUID leaf 2: ours reports a Pentium II's TLB descriptors, QEMU's pentium2 model none"),
        new(new(@"^(Last level dTLB entries: )4KB 0, 2MB 0, 4MB 0, 1GB 0$"), "${1}4KB 64, 2MB 0, 4MB 8, 1GB 0", "CPUID leaf 2: ours reports a Pentium II's TLB descriptors, QEMU's pentium2 model none"),
        new(new(@"^PCI: PCI BIOS revision 2\.10 entry at "), null, "no PCI BIOS service directory (SeaBIOS provides one on QEMU)"),
        new(new(@"^ACPI: PM: \(supports S0 S3 S4 S5\)$"), "ACPI: PM: (supports S0 S5)", "our DSDT has only \\_S5 (soft off)"),
        new(new(@"^ACPI: Enabled 2 GPEs in block 00 to 0F$"), null, "no general-purpose events in our DSDT (QEMU's are for PCI hot-plug)"),
        new(new(@"^acpi resource window \(\[0x100000000-0x17fffffff\] ignored, not CPU addressable\)$"), null, "no 64-bit PCI window in our DSDT"),
        new(new(@"^acpiphp: Slot \[\d+\] registered$"), null, "no PCI hot-plug slots in our DSDT"),
        new(new(@"^pci 0000:00:01\.3: "), null, NoPiix4Pm),
        new(new(@"^microcode: (sig=0x652, pf=0x1, )revision=0x1$"), "microcode: ${1}revision=0x0", "microcode revision: QEMU's model says 1, ours says no update was loaded (0)"),
        new(new(@"^ata1: found unknown device \(class 0\)$"), null, "QEMU answers for the absent slave drive with a blank signature; ours reads as an empty position"),
        new(new(@"^pnp 00:02: \[dma 2\]$"), null, NoFloppy),
        new(new(@"^pnp: PnP ACPI: found 5 devices$"), "pnp: PnP ACPI: found 4 devices", NoFloppy),
        new(new(@"(^|\s)00:03: "), "${1}00:02: ", NoFloppy), // renumbered in order: 00:03 first, then 00:04 takes its place
        new(new(@"(^|\s)00:04: "), "${1}00:03: ", NoFloppy),
        new(new(@"^rtc_cmos 00:03: RTC can wake from S4$"), null, "QEMU's FADT says the RTC can wake the machine from S4; ours has no S4"),
        new(new(@"^(rtc_cmos 00:03: alarms up to one day, y3k, )242 bytes nvram, hpet irqs$"), "${1}114 bytes nvram", "QEMU's DSDT gives the RTC 8 ports, which the kernel reads as 256 bytes of CMOS; ours gives the 2 it decodes (128 bytes). No HPET to route its alarms"),
    ];

    private const string PitWatchdog = "no HPET: the kernel registers the PIT as clocksource and watchdog, and reading it crosses to its device process";

    /// <summary>What only our machine prints.</summary>
    private static readonly Rule[] s_splitEmuOnly =
    [
        new(new(@"^Freeing SMP alternatives memory: 32K$"), null, SecondCpu),
        new(new(@"^clocksource: pit: mask: "), null, PitWatchdog),
        new(new(@"^clocksource: (timekeeping watchdog on CPU0: pit wd-wd|wd-tsc-early-wd) read-back delay of "), null, PitWatchdog),
    ];

    private const string Calibration = "TSC calibration: its method and result follow the host's speed (ours reads the PIT across a process boundary, too slowly for the fast method, and falls back to the slow PIT loop checked against the PM timer; whether those two agree follows the host's load)";
    private const string WallClock = "wall-clock time and run time";

    /// <summary>Values that follow time and speed, which differ run to run on either machine.</summary>
    private static readonly Rule[] s_both =
    [
        new(new(@"^tsc: (Fast TSC calibration .*|Detected [\d.]+ MHz processor|Unable to calibrate against PIT|PIT calibration (matches|deviates from) .*|using (PMTIMER|HPET) reference calibration|Refined TSC clocksource calibration: .*)$"), null, Calibration),
        new(new(@"^(clocksource: tsc(-early)?: mask: 0xffffffffffffffff) max_cycles: .*$"), "$1", Calibration),
        new(new(@"^(ACPI: \w{4}) 0x[0-9A-F]+ [0-9A-F]+( \(v\d\d) .*\)$"), "$1 table$2)", "the ACPI tables' addresses, lengths and OEM ids"),
        new(new(@"^(ACPI: \w{4}) 0x[0-9A-F]+ [0-9A-F]+$"), "$1 table", "the ACPI tables' addresses, lengths and OEM ids"),
        new(new(@"^(ACPI: Reserving \w{4} table memory) at \[mem .*\]$"), "$1", "the ACPI tables' addresses, lengths and OEM ids"),
        new(new(@"^(ata1\.00: ATA-7: ).*(, max UDMA/100)$"), "${1}DISK$2", "the disk's model and firmware strings"),
        new(new(@"^(scsi 0:0:0:0: Direct-Access     ATA      ).*( PQ: 0 ANSI: 5)$"), "${1}DISK$2", "the disk's model and firmware strings"),
        new(new(@"^sched_clock: Marking stable \(.*\)$"), "sched_clock: Marking stable", WallClock),
        new(new(@"audit\(\d+\.\d+:1\)"), "audit(T:1)", WallClock),
        new(new(@"(setting system clock to) .*$"), "$1 T", WallClock),
    ];

    /// <summary>
    /// Values that follow the order of the kernel's asynchronous work, on either machine: normalised, and not
    /// counted as rules a run must need (most runs take the common order).
    /// </summary>
    private static readonly Rule[] s_asynchronousValues =
    [
        // serio ports are probed by a kernel thread; the AUX port's mouse probe (psmouse) takes an input number
        // and frees it when no mouse answers, and on a busy host it may run before the keyboard's.
        new(new(@"^(input: AT Translated Set 2 keyboard as /devices/platform/i8042/serio0/input/input)\d+$"), "${1}N", "the keyboard's input number follows the serio probes' order"),
    ];

    /// <summary>
    /// Lines the kernel prints only when something took long on the host, on either machine: dropped, and not
    /// counted as rules a run must need (a quiet host never prints them).
    /// </summary>
    private static readonly Rule[] s_occasional =
    [
        new(new(@"^pci [0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.\d: \S+\+0x[0-9a-f]+/0x[0-9a-f]+ took \d+ usecs$"), null, "a PCI quirk that took over 10 ms of wall-clock time (a busy host)"),
        new(new(@"^CE: hpet increased min_delta_ns to \d+ nsec$"), null, "QEMU's HPET fired late on a busy host (ours has no HPET)"),
        new(new(@"^hrtimer: interrupt took \d+ ns$"), null, "one timer interrupt ran over its budget in wall-clock time (the host descheduled the guest)"),
        new(new(@"^clocksource: Long readout interval, skipping watchdog check: cs_nsec: \d+ wd_nsec: \d+$"), null, "the clocksource watchdog's two reads were far apart in wall-clock time (the host descheduled the guest between them), so it skipped one check"),
    ];

    /// <summary>
    /// What QEMU's machine occasionally does instead on a busy host: dropped or rewritten on its side only, and not
    /// counted as rules a run must need.
    /// </summary>
    private static readonly Rule[] s_qemuOccasional =
    [
        // QEMU's PM timer follows the host clock and its PIT the guest's progress; when the host stalls QEMU during
        // the kernel's 50 ms PIT-timed check of the PM timer's rate, the check fails and acpi_pm is left out.
        new(new(@"^PM-Timer running at invalid rate: \d+% of normal - aborting\.$"), "clocksource: acpi_pm: mask: 0xffffff max_cycles: 0xffffff, max_idle_ns: 2085701024 ns", "QEMU's PM-timer rate check failed on a busy host"),
    ];

    /// <summary>Lines of asynchronous work whose place among the others follows timing: compared as a multiset.</summary>
    private static readonly Regex[] s_floating =
    [
        new(@"^Trying to unpack rootfs image as initramfs\.\.\.$"), // the initramfs is unpacked asynchronously
        new(@"^audit: type=2000 audit\(T:1\): state=initialized "),   // printed by the kauditd thread when it first runs
        new(@"^input: AT Translated Set 2 keyboard as "),                // the keyboard is probed by the serio thread
        new(@"^Freeing initrd memory: "),
        new(@"^clocksource: Switched to clocksource "), // after the TSC's delayed refinement
        new(@"^clocksource: tsc: mask: "),                // registered by that refinement
    ];

    /// <summary>Every reason a rule gives: a differential run should need each of them, or the rule is stale.</summary>
    public static IReadOnlySet<string> Reasons { get; } = s_qemuOnly.Concat(s_splitEmuOnly).Concat(s_both).Select(r => r.Why).ToHashSet();

    /// <summary>
    /// The lines of <paramref name="dmesg"/> to compare, by the rules of the machine it came from, without their
    /// timestamps: those in kernel order, and the floating ones sorted. The reason of every rule that changed a
    /// line goes to <paramref name="forgiven"/>.
    /// </summary>
    public static (List<string> Ordered, List<string> Floating) Normalize(string dmesg, bool fromQemu, ISet<string> forgiven)
    {
        List<string> ordered = [], floating = [];
        foreach (string raw in dmesg.Replace("\r", "", StringComparison.Ordinal).Split('\n'))
        {
            string? line = Timestamp().Replace(raw, "");
            foreach (Rule rule in fromQemu ? s_qemuOnly : s_splitEmuOnly)
            {
                line = Apply(rule, line, forgiven);
            }

            foreach (Rule rule in s_both)
            {
                line = Apply(rule, line, forgiven);
            }

            foreach (Rule rule in (fromQemu ? s_occasional.Concat(s_qemuOccasional) : s_occasional).Concat(s_asynchronousValues))
            {
                line = Apply(rule, line, forgiven);
            }

            if (string.IsNullOrEmpty(line))
            {
                continue;
            }

            (s_floating.Any(f => f.IsMatch(line)) ? floating : ordered).Add(line);
        }

        floating.Sort(StringComparer.Ordinal);
        forgiven.ExceptWith(s_occasional.Concat(s_qemuOccasional).Concat(s_asynchronousValues).Select(r => r.Why));
        return (ordered, floating);
    }

    private static string? Apply(Rule rule, string? line, ISet<string> forgiven)
    {
        if (line is null || !rule.Pattern.IsMatch(line))
        {
            return line;
        }

        forgiven.Add(rule.Why);
        return rule.Replacement is null ? null : rule.Pattern.Replace(line, rule.Replacement);
    }

    [GeneratedRegex(@"^\[\s*\d+\.\d+\] ")] private static partial Regex Timestamp();
}
