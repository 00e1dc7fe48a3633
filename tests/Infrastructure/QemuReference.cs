using System.Diagnostics;
using System.Text;
using SplitEmu.Launch.Bench;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>
/// Debian's QEMU (package <c>qemu-system-x86</c>; .ci/run installs it) as the reference machine for differential
/// runs: the same firmware and disk booted on QEMU's <c>pc</c> machine (TCG) by <see cref="QemuPeer"/>, bounded
/// in time; QEMU is killed if it outlives the bound.
/// </summary>
public static class QemuReference
{
    /// <summary>How long a reference boot may take (QEMU needs about 0.3 s here).</summary>
    private static readonly TimeSpan s_timeout = TestDeadlines.Seconds(60);

    /// <summary>Boots <paramref name="bios"/> and <paramref name="disk"/> on 64 MiB: QEMU's exit code and SeaBIOS's debug console.</summary>
    public static (int ExitCode, string DebugConsole) BootPc(string bios, string disk)
    {
        Assert.True(QemuPeer.IsInstalled, $"{QemuPeer.Executable} is missing: install Debian's qemu-system-x86 package (.ci/run does)");
        QemuBoot boot = QemuPeer.BootAsync(bios, disk, 64, Stream.Null, s_timeout, CancellationToken.None).GetAwaiter().GetResult();
        Assert.True(boot.ExitCode is not null, $"QEMU did not exit within {s_timeout.TotalSeconds} s");
        Assert.True(boot.DebugConsole.Length > 0, $"QEMU wrote no debug console (exit {boot.ExitCode}): {boot.Errors}");
        return (boot.ExitCode.Value, boot.DebugConsole);
    }

    /// <summary>
    /// Boots the Linux guest on QEMU (<see cref="QemuPeer.LinuxArguments"/>: the same kernel, initrd, command line
    /// and a copy of <paramref name="disk"/> as IDE master), types <paramref name="command"/> at busybox's first
    /// prompt and returns what the console printed after it, up to QEMU's exit. The command must end the machine
    /// (<c>poweroff -f</c>: ACPI soft-off, and QEMU runs with -no-reboot).
    /// </summary>
    public static string RunLinux(string kernel, string initrd, string cmdline, string disk, int memoryMiB, string command)
    {
        Assert.True(QemuPeer.IsInstalled, $"{QemuPeer.Executable} is missing: install Debian's qemu-system-x86 package (.ci/run does)");
        using TempFolder folder = new();
        string copy = folder.File("disk.img");
        File.Copy(disk, copy);
        ProcessStartInfo info = new(QemuPeer.Executable) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in QemuPeer.LinuxArguments(kernel, initrd, cmdline, copy, memoryMiB))
        {
            info.ArgumentList.Add(argument);
        }

        using Process qemu = Process.Start(info)!;
        StringBuilder console = new();
        Task reading = Task.Run(() =>
        {
            char[] buffer = new char[4096];
            for (int read; (read = qemu.StandardOutput.Read(buffer)) > 0;)
            {
                lock (console)
                {
                    console.Append(buffer, 0, read);
                }
            }
        });
        Task<string> errors = qemu.StandardError.ReadToEndAsync();
        try
        {
            string Console() { lock (console) { return console.ToString(); } }
            bool prompted = ProcessTable.WaitUntil(() => Console() is string text && text.IndexOf(ShellPromptWatch.UpLine, StringComparison.Ordinal) is int up and >= 0
                && text.IndexOf(ShellPromptWatch.Prompt, up, StringComparison.Ordinal) >= 0, s_timeout);
            Assert.True(prompted, $"QEMU's guest did not reach its shell within {s_timeout.TotalSeconds:F0} s:\n{Console()}");
            int typedAt = Console().Length;
            qemu.StandardInput.Write(command + "\n");
            qemu.StandardInput.Flush();
            Assert.True(qemu.WaitForExit(s_timeout), $"QEMU did not power off within {s_timeout.TotalSeconds:F0} s after `{command}`:\n{Console()}");
            reading.Wait(s_timeout);
            return Console()[typedAt..];
        }
        finally
        {
            if (!qemu.HasExited)
            {
                qemu.Kill(entireProcessTree: true);
                qemu.WaitForExit();
            }

            _ = errors.Wait(TimeSpan.FromSeconds(5));
        }
    }
}
