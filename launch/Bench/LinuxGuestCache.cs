namespace SplitEmu.Launch.Bench;

/// <summary>
/// Where <c>scripts/fetch-linux-guest.sh</c> keeps Debian's kernel, initrd and disk: <c>$SPLITEMU_GUEST_CACHE</c>,
/// else <c>${XDG_CACHE_HOME:-~/.cache}/splitemu/linux-guest</c> (the script's own rule).
/// </summary>
public sealed record LinuxGuestCache(string Folder)
{
    public string Kernel => Path.Combine(Folder, "kernel", "bzImage");

    public string Initrd => Path.Combine(Folder, "initrd.cpio");

    public string Disk => Path.Combine(Folder, "disk.ext4");

    /// <summary>The fetched guest, or null with <paramref name="problem"/> saying what to run.</summary>
    public static LinuxGuestCache? Find(out string problem)
    {
        string folder = Environment.GetEnvironmentVariable("SPLITEMU_GUEST_CACHE") is { Length: > 0 } set
            ? set
            : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "splitemu", "linux-guest");
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
