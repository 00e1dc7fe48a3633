namespace SplitEmu.Launch.Bench;

/// <summary>
/// Where <c>scripts/fetch-linux-guest.sh</c> keeps Debian's kernel, initrd and disk (<c>${linux-guest}</c> in
/// profiles: <see cref="Profiles.ProfilePaths.LinuxGuestFolder"/>).
/// </summary>
public sealed record LinuxGuestCache(string Folder)
{
    public string Kernel => Path.Combine(Folder, "kernel", "bzImage");

    public string Initrd => Path.Combine(Folder, "initrd.cpio");

    public string Disk => Path.Combine(Folder, "disk.ext4");

    /// <summary>The fetched guest, or null with <paramref name="problem"/> saying what to run.</summary>
    public static LinuxGuestCache? Find(out string problem)
    {
        string folder = Profiles.ProfilePaths.LinuxGuestFolder;
        LinuxGuestCache cache = new(folder);
        problem = "";
        if (!File.Exists(Path.Combine(folder, "ready")) || !File.Exists(cache.Kernel) || !File.Exists(cache.Initrd) || !File.Exists(cache.Disk))
        {
            problem = $"the Linux guest is not fetched into {folder}: run scripts/fetch-linux-guest.sh from the repository first";
            return null;
        }

        return cache;
    }
}
