using System.Diagnostics;

namespace SplitEmu.Launch.Bench;

/// <summary>QEMU as the peer of `bench linux`: the same kernel, initrd, command line and disk on QEMU's pc machine.</summary>
public static partial class QemuPeer
{
    /// <summary>
    /// QEMU's pentium2 model with every CPUID feature ours does not report taken away, so both kernels see the same
    /// processor features (ours: FPU PSE TSC MSR CX8 SEP PGE CMOV FXSR; cpu-host/Cpu/X86Cpu.Identification.cs).
    /// Without the local APIC the kernel uses the 8259s, as on ours; QEMU sets the hypervisor bit on its own,
    /// which we do not report either. In QEMU's guest /proc/cpuinfo then says: fpu pse tsc msr cx8 sep pge cmov fxsr.
    /// </summary>
    public const string LinuxCpuModel = "pentium2,-vme,-de,-mce,-apic,-mtrr,-mca,-pat,-pse36,-mmx,-pae,-hypervisor";

    /// <summary>
    /// The command line that boots <paramref name="kernel"/> like profiles/linux.json: COM1 on standard output, the
    /// disk as primary IDE master, and none of QEMU's default devices (it would add a CD-ROM on the secondary
    /// channel, which the kernel probes during the timed boot, a parallel port and VGA).
    /// </summary>
    public static IReadOnlyList<string> LinuxArguments(string kernel, string initrd, string cmdline, string disk, int memoryMiB) =>
    [
        "-machine", "pc,accel=tcg", "-nodefaults", "-cpu", LinuxCpuModel, "-m", $"{memoryMiB}",
        "-vga", "none", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot", "-nic", "none",
        "-kernel", kernel, "-initrd", initrd, "-append", cmdline,
        "-drive", $"file={disk},format=raw,if=ide",
    ];

    /// <summary>
    /// Boots the kernel on QEMU until <paramref name="console"/> has seen the shell's prompt (then QEMU is killed),
    /// it exits, or <paramref name="timeout"/> passes. QEMU runs SeaBIOS and its linuxboot option ROM before the
    /// kernel, so its time includes its firmware. A copy of <paramref name="disk"/> is used and removed.
    /// </summary>
    public static async Task<string> BootLinuxToPromptAsync(string kernel, string initrd, string cmdline, string disk, int memoryMiB,
        ShellPromptWatch console, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string folder = Directory.CreateTempSubdirectory("splitemu-qemu-linux-").FullName;
        try
        {
            string copy = Path.Combine(folder, "disk.ext4");
            File.Copy(disk, copy);
            ProcessStartInfo info = new(Executable) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
            foreach (string argument in LinuxArguments(kernel, initrd, cmdline, copy, memoryMiB))
            {
                info.ArgumentList.Add(argument);
            }

            using Process qemu = Process.Start(info) ?? throw new InvalidOperationException($"could not start {Executable}");
            Task copying = qemu.StandardOutput.BaseStream.CopyToAsync(console, CancellationToken.None);
            Task<string> errors = qemu.StandardError.ReadToEndAsync(CancellationToken.None);
            using CancellationTokenSource until = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, console.Prompted);
            try
            {
                await qemu.WaitForExitAsync(until.Token).WaitAsync(timeout, until.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or TimeoutException)
            {
                // the prompt, the caller, or the time limit: stop QEMU either way
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
            return (await errors.ConfigureAwait(false)).Trim();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
