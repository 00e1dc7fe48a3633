using SplitEmu.Launch.Host;
using System.Runtime.InteropServices;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>Gives a file to another user (root only), to stand for a file that user created.</summary>
public static partial class FileOwner
{
    /// <summary>A uid no account on a test machine has.</summary>
    public const uint Stranger = 54321;

    /// <summary>Makes <paramref name="userId"/> the owner of <paramref name="path"/> itself (a link is not followed).</summary>
    public static void Set(string path, uint userId)
    {
        if (Lchown(path, userId, userId) != 0)
        {
            throw new IOException($"lchown {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }

    /// <summary>Whether this process may give files to another uid (root), as another user's planted file would be owned.</summary>
    public static bool CanGiveAway => UnixFileStatus.CurrentUserId == 0;

    /// <summary>
    /// A folder another user owns and this user may put a socket into: as root, a fresh folder in
    /// <paramref name="scratch"/> given to <see cref="Stranger"/>; as anyone else, /tmp (root's, open to all with
    /// the sticky bit). Returns the folder and its owner.
    /// </summary>
    public static (string Folder, uint Owner) ForeignFolder(TempFolder scratch)
    {
        if (CanGiveAway)
        {
            string folder = scratch.File("theirs");
            Directory.CreateDirectory(folder);
            Set(folder, Stranger);
            return (folder, Stranger);
        }

        uint owner = UnixFileStatus.OfLink("/tmp").OwnerId;
        if (owner == UnixFileStatus.CurrentUserId)
        {
            throw new InvalidOperationException("/tmp belongs to this user: no folder of another user to test with");
        }

        return ("/tmp", owner);
    }

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Lchown(string path, uint owner, uint group);
}
