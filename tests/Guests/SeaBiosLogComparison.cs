using System.Text.RegularExpressions;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// Turns SeaBIOS's debug-console log into the lines a differential run compares with QEMU's. The two machines
/// differ in known ways (QEMU's has a PIIX4 power-management function, a local APIC, ACPI tables, a floppy
/// controller, an LPT port and a CD-ROM; ours has none of them), and some lines carry addresses and counts that
/// follow from that. Each rule below names its reason; any other difference is a difference in what SeaBIOS found
/// or did, and fails the comparison. The rules for QEMU's side are exact for the 64 MiB machine of
/// profiles/seabios.json. docs/pc-platform.md lists the same differences for people.
/// </summary>
internal static partial class SeaBiosLogComparison
{
    /// <summary>A line rule: lines matching <paramref name="Pattern"/> are dropped (null replacement) or rewritten.</summary>
    private sealed record Rule(Regex Pattern, string? Replacement, string Why);

    /// <summary>What only QEMU's machine prints, or prints differently, because of hardware ours does not have.</summary>
    private static readonly Rule[] s_qemuOnly =
    [
        new(PmBase(), null, "no PIIX4 power-management function (00:01.3)"),
        new(PmFunction(), null, "no PIIX4 power-management function (00:01.3)"),
        new(PmTimer(), null, "no PIIX4 power-management timer"),
        new(CpuCount(), null, "no local APIC: SeaBIOS cannot count CPUs"),
        new(Floppy(), null, "no floppy controller"),
        new(CdRom(), null, "no CD-ROM on the secondary channel"),
        new(SecondaryDrive(), null, "no CD-ROM on the secondary channel"),
        new(NoMedium(), null, "no CD-ROM on the secondary channel"),
        new(VapicRom(), null, "no kvmvapic option ROM in fw_cfg"),
        new(OptionRom(), null, "no kvmvapic option ROM in fw_cfg"),
        new(AcpiReserved(), null, "no ACPI tables: no reserved range at the top of RAM"),
        new(RamBelowAcpi(), "- 0000000004000000 = 1 RAM", "no ACPI tables: RAM runs to the top"),
        new(E820Count(), "e820 map has 5 items:", "no ACPI tables: one e820 entry fewer"),
        new(LastE820Entry(), "  4: 00000000fffc0000", "no ACPI tables: one e820 entry fewer"),
        new(ZoneHigh(), "Returned 16777216 bytes of ZoneHigh", "no ACPI tables: their 128 KiB stay in ZoneHigh"),
        new(PciCount(), "Found 3 PCI devices", "no PIIX4 power-management function (00:01.3)"),
        new(LptCount(), "Found 0 lpt ports", "no LPT port"),
        new(QemuDisk(), "SPLITEMU HARDDISK", "the disk's model string"),
    ];

    /// <summary>What only our machine prints.</summary>
    private static readonly Rule[] s_splitEmuOnly =
    [
        new(NoApic(), null, "no local APIC"),
        new(CpuMhz(), null, "no PM timer: SeaBIOS calibrates its TSC against the 8254 and says so"),
    ];

    /// <summary>Addresses that follow SeaBIOS's allocations, which differ with the hardware and vary run to run.</summary>
    private static readonly Rule[] s_both =
    [
        new(MpTable(), "Copying MPTABLE", "table addresses follow SeaBIOS's allocations (they vary run to run, also on QEMU)"),
        new(Smbios(), "Copying SMBIOS", "table addresses follow SeaBIOS's allocations (they vary run to run, also on QEMU)"),
        new(DriveAddress(), "drive ADDRESS:", "the drive's address follows the threaded probes' allocation order"),
        new(UmbSpace(), "Space available for UMB", "QEMU's kvmvapic option ROM takes upper memory"),
    ];

    /// <summary>Every reason a rule gives: a differential run should need each of them, or the rule is stale.</summary>
    public static IReadOnlySet<string> Reasons { get; } = s_qemuOnly.Concat(s_splitEmuOnly).Concat(s_both).Select(r => r.Why).ToHashSet();

    /// <summary>
    /// The lines of <paramref name="log"/> to compare, by the rules of the machine it came from; the reason of
    /// every rule that changed a line goes to <paramref name="forgiven"/>.
    /// </summary>
    public static List<string> Normalize(string log, bool fromQemu, ISet<string> forgiven)
    {
        List<string> lines = [];
        foreach (string raw in log.Replace("\r", "", StringComparison.Ordinal).Split('\n'))
        {
            string? line = raw;
            foreach (Rule rule in fromQemu ? s_qemuOnly : s_splitEmuOnly)
            {
                line = Apply(rule, line, forgiven);
            }

            foreach (Rule rule in s_both)
            {
                line = Apply(rule, line, forgiven);
            }

            if (!string.IsNullOrEmpty(line))
            {
                lines.Add(line);
            }
        }

        SortThreadedProbes(lines);
        return lines;
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

    /// <summary>
    /// SeaBIOS probes ATA drives, the LPT and serial ports and the keyboard in threads of their own, from its
    /// second banner to "All threads complete.": their lines interleave by timing, so that stretch is compared
    /// as a set.
    /// </summary>
    private static void SortThreadedProbes(List<string> lines)
    {
        int banner = lines.FindIndex(lines.FindIndex(l => l.StartsWith("SeaBIOS (version", StringComparison.Ordinal)) + 1, l => l.StartsWith("SeaBIOS (version", StringComparison.Ordinal));
        int done = lines.IndexOf("All threads complete.");
        if (banner >= 0 && done > banner)
        {
            lines.Sort(banner + 1, done - banner - 1, StringComparer.Ordinal);
        }
    }

    [GeneratedRegex(@"^Moving pm_base to ")] private static partial Regex PmBase();
    [GeneratedRegex(@"^PCI: init bdf=00:01\.3 id=8086:7113$")] private static partial Regex PmFunction();
    [GeneratedRegex(@"^Using pmtimer, ioport ")] private static partial Regex PmTimer();
    [GeneratedRegex(@"^Found \d+ cpu\(s\) max supported")] private static partial Regex CpuCount();
    [GeneratedRegex(@"^Searching bootorder for: /pci@i0cf8/isa@1/fdc@03f0/floppy@0$")] private static partial Regex Floppy();
    [GeneratedRegex(@"^DVD/CD \[ata1-0: ")] private static partial Regex CdRom();
    [GeneratedRegex(@"^Searching bootorder for: /pci@i0cf8/\*@1,1/drive@1/disk@0$")] private static partial Regex SecondaryDrive();
    [GeneratedRegex(@"^Device reports MEDIUM NOT PRESENT")] private static partial Regex NoMedium();
    [GeneratedRegex(@"^Searching bootorder for: /rom@genroms/kvmvapic\.bin$")] private static partial Regex VapicRom();
    [GeneratedRegex(@"^Running option rom at c000:0003$")] private static partial Regex OptionRom();
    [GeneratedRegex(@"^\s+\d+: 0000000003fe0000 - 0000000004000000 = 2 RESERVED$")] private static partial Regex AcpiReserved();
    [GeneratedRegex(@"- 0000000003fe0000 = 1 RAM$")] private static partial Regex RamBelowAcpi();
    [GeneratedRegex(@"QEMU HARDDISK")] private static partial Regex QemuDisk();
    [GeneratedRegex(@"^No apic - only the main cpu is present\.$")] private static partial Regex NoApic();
    [GeneratedRegex(@"^CPU Mhz=\d+$")] private static partial Regex CpuMhz();
    [GeneratedRegex(@"^Found 4 PCI devices")] private static partial Regex PciCount();
    [GeneratedRegex(@"^Copying MPTABLE .*$")] private static partial Regex MpTable();
    [GeneratedRegex(@"^Copying SMBIOS .*$")] private static partial Regex Smbios();
    [GeneratedRegex(@"^drive 0x[0-9a-f]+:")] private static partial Regex DriveAddress();
    [GeneratedRegex(@"^Space available for UMB: .*$")] private static partial Regex UmbSpace();
    [GeneratedRegex(@"^Returned 16646144 bytes of ZoneHigh$")] private static partial Regex ZoneHigh();
    [GeneratedRegex(@"^e820 map has 6 items:$")] private static partial Regex E820Count();
    [GeneratedRegex(@"^  5: 00000000fffc0000")] private static partial Regex LastE820Entry();
    [GeneratedRegex(@"^Found 1 lpt ports")] private static partial Regex LptCount();
}
