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

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Lchown(string path, uint owner, uint group);
}
