using System.Text;
using SplitEmu.Shared.Boot;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.Launch.Profiles;

// Direct kernel boot: `kernel`, `initrd` and `cmdline` (the Linux x86 32-bit boot protocol).
internal sealed partial class ProfileValidator
{
    /// <summary>Resolves and checks the kernel and initrd; returns their absolute paths (null where absent or unusable).</summary>
    private (string? Kernel, string? Initrd) CheckKernel(MachineProfile profile, ulong? ramBytes, string splitemuDirectory)
    {
        if (profile.Kernel is null)
        {
            foreach ((string key, bool set) in new[] { ("cmdline", profile.Cmdline is not null), ("initrd", profile.Initrd is not null) })
            {
                if (set)
                {
                    Report("$." + key, $"{key} is used only with kernel; set \"kernel\" to a bzImage, or remove {key} (null removes an inherited value)");
                }
            }

            return (null, null);
        }

        if (profile.Firmware is not null)
        {
            Report("$.kernel", "kernel and firmware exclude each other (a kernel is booted directly, without firmware); remove one of them");
        }

        string? kernelPath = ResolveFile(profile.Kernel, "$.kernel", splitemuDirectory);
        LinuxKernelImage? image = kernelPath is null ? null : ReadKernel(kernelPath, profile.Kernel, ramBytes);
        if (image is not null && ramBytes is { } ram && image.MemoryNeeded > ram)
        {
            Report("$.kernel", $"kernel '{profile.Kernel}' needs {(image.MemoryNeeded + BytesPerMiB - 1) / BytesPerMiB} MiB of RAM to decompress and start; the machine has {ram / BytesPerMiB} MiB (raise memory.sizeMiB)");
        }

        if (image is not null && profile.Cmdline is { } cmdline && Encoding.UTF8.GetByteCount(cmdline) > image.CmdlineSize)
        {
            Report("$.cmdline", $"command line is {Encoding.UTF8.GetByteCount(cmdline)} bytes; kernel '{profile.Kernel}' takes at most {image.CmdlineSize}");
        }

        string? initrdPath = null;
        if (profile.Initrd is { } initrd)
        {
            initrdPath = ResolveFile(initrd, "$.initrd", splitemuDirectory);
            long? length = initrdPath is null ? null : FileLength(initrdPath, "$.initrd", initrd, "initrd", "an initial RAM disk file");
            if (length is 0)
            {
                Report("$.initrd", $"initrd '{initrd}' is empty; expected a cpio archive (compressed or not)");
            }
            else if (length is { } bytes && image is not null && ramBytes is { } memory && image.InitrdAddress(memory, bytes) is null)
            {
                Report("$.initrd", $"initrd '{initrd}' ({bytes} bytes) does not fit between the kernel's working memory (up to {Hex(image.MemoryNeeded)}) and the end of RAM or the kernel's initrd limit {Hex(image.InitrdAddressMax)}; raise memory.sizeMiB");
            }
        }

        return (image is null ? null : kernelPath, initrdPath);
    }

    /// <summary>Reads and parses the bzImage, reporting why it cannot be booted.</summary>
    private LinuxKernelImage? ReadKernel(string fullPath, string written, ulong? ramBytes)
    {
        long? length = FileLength(fullPath, "$.kernel", written, "kernel", "a Linux bzImage file");
        if (length is not { } bytes)
        {
            return null;
        }

        if (ramBytes is { } ram && (ulong)bytes > ram)
        {
            Report("$.kernel", $"kernel '{written}' is {bytes} bytes, larger than the machine's RAM; expected a bzImage");
            return null;
        }

        try
        {
            return LinuxKernelImage.Parse(File.ReadAllBytes(fullPath));
        }
        catch (InvalidDataException e)
        {
            Report("$.kernel", $"kernel '{written}' {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Report("$.kernel", $"kernel '{written}' cannot be read ({e.Message}); expected a readable file");
        }

        return null;
    }

    /// <summary>With a kernel, the boot protocol decides where the CPU starts: entry and stack are not the profile's.</summary>
    private void CheckCpuForKernel(CpuConfig cpu)
    {
        if (cpu.Mode != CpuStartMode.Protected32Flat)
        {
            Report("$.cpu.mode", $"mode {KebabCaseEnum.ToName(cpu.Mode)} cannot boot a kernel; the boot protocol starts it in protected32-flat (remove cpu.mode)");
        }

        foreach (string field in new[] { "entry", "stack" })
        {
            if (_map.Contains("$.cpu." + field))
            {
                Report("$.cpu." + field, $"{field} is decided by the kernel's boot protocol when kernel is set; remove it (null removes an inherited value)");
            }
        }
    }
}
