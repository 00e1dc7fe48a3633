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
}
