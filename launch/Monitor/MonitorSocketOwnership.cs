using SplitEmu.Launch.Host;

namespace SplitEmu.Launch.Monitor;

/// <summary>
/// Whether a monitor socket may be trusted by the user about to connect to it: it must be a socket, owned by
/// that user, in a folder owned by that user. The server refuses peers of another uid (SO_PEERCRED,
/// <see cref="PeerCredentials"/>), but that protects the machine, not the client: a socket planted by someone
/// else would answer as our machine and see every command we type. So the client checks the file before it
/// connects, and refuses with the reason.
/// </summary>
public static class MonitorSocketOwnership
{
    /// <summary>Why user <paramref name="userId"/> must not attach to <paramref name="socketPath"/>, or null if it may.</summary>
    public static string? ProblemWith(string socketPath, uint userId)
    {
        if (OperatingSystem.IsWindows())
        {
            return null; // no owners there: the user's profile folder is private
        }

        UnixFileStatus socket;
        UnixFileStatus folder;
        string folderPath = Path.GetDirectoryName(Path.GetFullPath(socketPath)) ?? "/";
        try
        {
            socket = UnixFileStatus.OfLink(socketPath);
            folder = UnixFileStatus.Of(folderPath);
        }
        catch (IOException ex)
        {
            return ex.Message;
        }

        if (socket.Kind != UnixFileKind.Socket)
        {
            return $"{socketPath} is {socket.KindWithArticle}, not a socket";
        }

        if (socket.OwnerId != userId)
        {
            return $"{socketPath} is owned by uid {socket.OwnerId}, not by you (uid {userId}): it is not your machine";
        }

        if (folder.OwnerId != userId)
        {
            return $"its folder {folderPath} is owned by uid {folder.OwnerId}, not by you (uid {userId}): its owner could have put the socket there";
        }

        return null;
    }
}
