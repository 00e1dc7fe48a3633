using System.Diagnostics;
using System.Text.RegularExpressions;

namespace SplitEmu.Launch.Bench;

/// <summary>
/// QEMU (Debian's <c>qemu-system-x86</c>) as the peer that the PC platform is measured and compared against: the
/// same firmware and disk on QEMU's <c>pc</c> machine under TCG, as ../shared/notes/seabios-reference-boot.md
/// describes. Used by `bench boot` (time) and by the differential test (SeaBIOS's log).
/// </summary>
public static partial class QemuPeer
{
    /// <summary>Where Debian's package puts the 32-bit PC emulator.</summary>
    public const string Executable = "/usr/bin/qemu-system-i386";

    /// <summary>Whether QEMU is installed here.</summary>
    public static bool IsInstalled => File.Exists(Executable);

    /// <summary>QEMU's version ("7.2.22"), or "?" if it does not say.</summary>
    public static string Version()
    {
        ProcessStartInfo info = new(Executable, "--version") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        using Process qemu = Process.Start(info) ?? throw new InvalidOperationException($"could not start {Executable}");
        string text = qemu.StandardOutput.ReadToEnd();
        qemu.WaitForExit();
        return VersionLine().Match(text) is { Success: true } match ? match.Groups[1].Value : "?";
    }

    /// <summary>
    /// Boots <paramref name="bios"/> with a copy of <paramref name="disk"/> (QEMU's IDE opens it for writing) as the
    /// primary IDE master on <paramref name="memoryMiB"/> MiB, like profiles/seabios.json: no VGA, so SeaBIOS's
    /// screen goes to COM1, which is copied to <paramref name="console"/>; no NIC; debug-exit at 0x501; the debug
    /// console at 0x402. At <paramref name="timeout"/> QEMU is killed. Nothing is left behind either way.
    /// </summary>
    public static async Task<QemuBoot> BootAsync(string bios, string disk, int memoryMiB, Stream console, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string folder = Directory.CreateTempSubdirectory("splitemu-qemu-").FullName;
        try
        {
            string copy = Path.Combine(folder, "disk.img");
            string debugConsole = Path.Combine(folder, "debugcon.log");
            File.Copy(disk, copy);
            using Process qemu = Process.Start(StartInfo(bios, copy, memoryMiB, debugConsole)) ?? throw new InvalidOperationException($"could not start {Executable}");
            Task copying = qemu.StandardOutput.BaseStream.CopyToAsync(console, CancellationToken.None);
            Task<string> errors = qemu.StandardError.ReadToEndAsync(CancellationToken.None);
            bool timedOut = false;
            try
            {
                await qemu.WaitForExitAsync(cancellationToken).WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                timedOut = true;
            }
            finally
            {
                if (!qemu.HasExited)
                {
                    qemu.Kill(entireProcessTree: true);
                    await qemu.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }

            await copying.ConfigureAwait(false);
            string log = File.Exists(debugConsole) ? await File.ReadAllTextAsync(debugConsole, CancellationToken.None).ConfigureAwait(false) : "";
            return new QemuBoot(timedOut ? null : qemu.ExitCode, log, (await errors.ConfigureAwait(false)).Trim());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static ProcessStartInfo StartInfo(string bios, string disk, int memoryMiB, string debugConsole)
    {
        ProcessStartInfo info = new(Executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string argument in (string[])[
            "-machine", "pc,accel=tcg", "-m", $"{memoryMiB}", "-vga", "none", "-nographic", "-no-reboot", "-net", "none",
            "-bios", bios, "-drive", $"file={disk},format=raw,if=ide",
            "-device", "isa-debug-exit,iobase=0x501,iosize=1",
            "-debugcon", $"file:{debugConsole}", "-global", "isa-debugcon.iobase=0x402"])
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    [GeneratedRegex(@"QEMU emulator version (\S+)")]
    private static partial Regex VersionLine();
}

/// <summary>How a QEMU boot ended: its exit code (null: killed at the time limit), SeaBIOS's debug console, and what QEMU said on standard error.</summary>
public sealed record QemuBoot(int? ExitCode, string DebugConsole, string Errors);
