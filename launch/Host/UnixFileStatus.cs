using System.Runtime.InteropServices;

namespace SplitEmu.Launch.Host;

/// <summary>The kind of a file system entry, from the type bits of its mode.</summary>
public enum UnixFileKind
{
    /// <summary>A regular file.</summary>
    Regular,

    /// <summary>A folder.</summary>
    Directory,

    /// <summary>A symbolic link (seen only when links are not followed).</summary>
    SymbolicLink,

    /// <summary>A named pipe: opening it for reading waits for a writer.</summary>
    Fifo,

    /// <summary>A character device such as /dev/zero: endless, its size unknown.</summary>
    CharacterDevice,

    /// <summary>A block device.</summary>
    BlockDevice,

    /// <summary>A UNIX domain socket.</summary>
    Socket,

    /// <summary>None of the above.</summary>
    Other,
}

/// <summary>
/// What Linux's statx(2) says about a path: its kind, owner, permission bits and size. .NET's file APIs do not
/// tell a FIFO or a device from a regular file, nor name a file's owner; profile validation and the monitor's
/// folder check need both.
/// </summary>
public readonly partial record struct UnixFileStatus(UnixFileKind Kind, uint OwnerId, UnixFileMode Mode, long Size)
{
    private const int AtCurrentDirectory = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7FF;

    /// <summary>struct statx is 256 bytes; the fields read here sit at fixed offsets on every architecture.</summary>
    private const int StatxBytes = 256;
    private const int UidOffset = 20;
    private const int ModeOffset = 28;
    private const int SizeOffset = 40;

    /// <summary>Permission bits (rwx for user, group, other, plus setuid, setgid, sticky).</summary>
    private const int PermissionMask = 0xFFF;

    /// <summary>The effective user id of this process.</summary>
    public static uint CurrentUserId => GetEffectiveUserId();

    /// <summary>The kind in words, for messages: "a FIFO", "a character device"...</summary>
    public string KindWithArticle => Kind switch
    {
        UnixFileKind.Regular => "a regular file",
        UnixFileKind.Directory => "a folder",
        UnixFileKind.SymbolicLink => "a symbolic link",
        UnixFileKind.Fifo => "a FIFO (named pipe)",
        UnixFileKind.CharacterDevice => "a character device",
        UnixFileKind.BlockDevice => "a block device",
        UnixFileKind.Socket => "a socket",
        _ => "a special file",
    };

    /// <summary>The status of <paramref name="path"/>, following symbolic links.</summary>
    /// <exception cref="IOException">It does not exist or cannot be examined.</exception>
    public static UnixFileStatus Of(string path) => Query(path, followLinks: true);

    /// <summary>The status of <paramref name="path"/> itself: a symbolic link is reported as one.</summary>
    /// <exception cref="IOException">It does not exist or cannot be examined.</exception>
    public static UnixFileStatus OfLink(string path) => Query(path, followLinks: false);

    private static unsafe UnixFileStatus Query(string path, bool followLinks)
    {
        byte* buffer = stackalloc byte[StatxBytes];
        if (Statx(AtCurrentDirectory, path, followLinks ? 0 : AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot examine {path}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }

        uint mode = *(ushort*)(buffer + ModeOffset);
        return new UnixFileStatus(
            KindOf(mode),
            *(uint*)(buffer + UidOffset),
            (UnixFileMode)(mode & PermissionMask),
            (long)*(ulong*)(buffer + SizeOffset));
    }

    private static UnixFileKind KindOf(uint mode) => (mode & 0xF000) switch
    {
        0x8000 => UnixFileKind.Regular,
        0x4000 => UnixFileKind.Directory,
        0xA000 => UnixFileKind.SymbolicLink,
        0x1000 => UnixFileKind.Fifo,
        0x2000 => UnixFileKind.CharacterDevice,
        0x6000 => UnixFileKind.BlockDevice,
        0xC000 => UnixFileKind.Socket,
        _ => UnixFileKind.Other,
    };

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int directoryFd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();
}
