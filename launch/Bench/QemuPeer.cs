using System.Diagnostics;

namespace SplitEmu.Launch.Bench;

/// <summary>
/// QEMU (Debian's <c>qemu-system-x86</c>) as the peer that the PC platform is measured and compared against: the
/// same firmware and disk on QEMU's <c>pc</c> machine under TCG, as ../shared/notes/seabios-reference-boot.md
/// describes. Used by `bench boot` (time) and by the differential test (SeaBIOS's log).
/// </summary>
public static class QemuPeer
{
    /// <summary>Where Debian's package puts the 32-bit PC emulator.</summary>
    public const string Executable = "/usr/bin/qemu-system-i386";

    /// <summary>Whether QEMU is installed here.</summary>
    public static bool IsInstalled => File.Exists(Executable);

    /// <summary>
    /// A boot of <paramref name="bios"/> with <paramref name="disk"/> (raw, written to by QEMU's IDE: pass a copy)
    /// as the primary IDE master on 64 MiB like profiles/seabios.json: no VGA, so SeaBIOS's screen goes to COM1 on
    /// QEMU's standard output; no NIC; debug-exit at 0x501; the debug console at 0x402 into
    /// <paramref name="debugConsole"/>. Standard input, output and error are redirected.
    /// </summary>
    public static ProcessStartInfo PcBoot(string bios, string disk, string debugConsole)
    {
        ProcessStartInfo info = new(Executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string argument in (string[])[
            "-machine", "pc,accel=tcg", "-m", "64", "-vga", "none", "-nographic", "-no-reboot", "-net", "none",
            "-bios", bios, "-drive", $"file={disk},format=raw,if=ide",
            "-device", "isa-debug-exit,iobase=0x501,iosize=1",
            "-debugcon", $"file:{debugConsole}", "-global", "isa-debugcon.iobase=0x402"])
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }
}
