using System.Diagnostics;
using SplitEmu.Launch.Bench;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>
/// Debian's QEMU (package <c>qemu-system-x86</c>; .ci/run installs it) as the reference machine for differential
/// runs: the same firmware and disk booted on QEMU's <c>pc</c> machine (TCG), as in
/// ../shared/notes/seabios-reference-boot.md. The run is bounded, and QEMU is killed if it outlives it.
/// </summary>
public static class QemuReference
{
    /// <summary>How long a reference boot may take (QEMU needs about 0.3 s here).</summary>
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Boots <paramref name="bios"/> with a copy of <paramref name="disk"/> as <see cref="QemuPeer.PcBoot"/> does:
    /// returns QEMU's exit code and what SeaBIOS wrote to its debug console.
    /// </summary>
    public static (int ExitCode, string DebugConsole) BootPc(string bios, string disk)
    {
        Assert.True(QemuPeer.IsInstalled, $"{QemuPeer.Executable} is missing: install Debian's qemu-system-x86 package (.ci/run does)");
        using TempFolder folder = new();
        string debugConsole = folder.File("debugcon.log");
        string diskCopy = folder.File("disk.img"); // QEMU's IDE wants a writable image: never the shipped one
        File.Copy(disk, diskCopy);
        ProcessStartInfo info = QemuPeer.PcBoot(bios, diskCopy, debugConsole);
        using Process qemu = Process.Start(info) ?? throw new InvalidOperationException($"could not start {QemuPeer.Executable}");
        Task<string> errors = qemu.StandardError.ReadToEndAsync();
        _ = qemu.StandardOutput.ReadToEndAsync();
        try
        {
            Assert.True(qemu.WaitForExit(s_timeout), $"QEMU did not exit within {s_timeout.TotalSeconds} s");
            qemu.WaitForExit();
        }
        finally
        {
            if (!qemu.HasExited)
            {
                qemu.Kill(entireProcessTree: true);
                qemu.WaitForExit();
            }
        }

        string log = File.Exists(debugConsole) ? File.ReadAllText(debugConsole) : "";
        Assert.True(log.Length > 0, $"QEMU wrote no debug console (exit {qemu.ExitCode}): {errors.Result}");
        return (qemu.ExitCode, log);
    }
}
