using SplitEmu.Launch.Host;

namespace SplitEmu.Launch.Monitor;

/// <summary>
/// Makes sure the folder of monitor sockets is ours alone before a socket is bound or trusted in it. In a
/// shared folder such as /tmp, another user could have created it first: with our machines' sockets in a
/// folder they own or can write, they could remove them and listen in their place (spoofing the machine to
/// `splitemu monitor`), or deny us the name. So the folder must be a real folder (not a symbolic link), owned
/// by us, with no permission for group or others; anything else is refused with the reason, never repaired.
/// </summary>
public static class MonitorFolder
{
    /// <summary>Permission bits that must be clear: everything for group and others.</summary>
    private const UnixFileMode GroupAndOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Creates <paramref name="folder"/> (mode 0700) if it is missing, then checks it.</summary>
    /// <exception cref="UnsafeMonitorFolderException">It exists but is not safe to use.</exception>
    public static void Prepare(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder); // no modes, owners or statx there: the user's profile folder is private
            return;
        }

        // Creating a folder that exists is not an error here; what matters is what is there afterwards.
        Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Verify(folder);
    }

    /// <summary>Checks an existing <paramref name="folder"/>.</summary>
    /// <exception cref="UnsafeMonitorFolderException">It is not safe to use (or cannot be examined).</exception>
    public static void Verify(string folder)
    {
        if (ProblemWith(folder, UnixFileStatus.CurrentUserId) is { } problem)
        {
            throw new UnsafeMonitorFolderException(
                $"refusing the monitor folder {folder}: {problem}; remove it, or set {MonitorPaths.FolderVariable} to a folder of your own with mode 0700");
        }
    }

    /// <summary>Why <paramref name="folder"/> is unsafe for user <paramref name="userId"/>, or null if it is safe.</summary>
    public static string? ProblemWith(string folder, uint userId)
    {
        UnixFileStatus status;
        try
        {
            status = UnixFileStatus.OfLink(folder);
        }
        catch (IOException ex)
        {
            return ex.Message;
        }

        if (status.Kind == UnixFileKind.SymbolicLink)
        {
            return "it is a symbolic link";
        }

        if (status.Kind != UnixFileKind.Directory)
        {
            return $"it is {status.KindWithArticle}, not a folder";
        }

        if (status.OwnerId != userId)
        {
            return $"it is owned by uid {status.OwnerId}, not by you (uid {userId})";
        }

        if ((status.Mode & GroupAndOthers) != 0)
        {
            return $"its mode is {Octal(status.Mode)}, which lets other users in; expected 0700";
        }

        return null;
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode, 8);
}

/// <summary>The monitor folder exists but another user could reach or control it.</summary>
public sealed class UnsafeMonitorFolderException(string message) : IOException(message);
