using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace SplitEmu.Launch.Monitor;

/// <summary>
/// Who is at the other end of a connected UNIX socket, as the kernel recorded it when the peer connected
/// (SO_PEERCRED): it cannot be forged by the peer.
/// </summary>
/// <param name="ProcessId">The peer's process id.</param>
/// <param name="UserId">The peer's effective user id.</param>
/// <param name="GroupId">The peer's effective group id.</param>
public readonly record struct PeerCredentials(int ProcessId, uint UserId, uint GroupId)
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>struct ucred: pid, uid, gid, 4 bytes each.</summary>
    private const int UcredBytes = 12;

    /// <summary>The credentials of the peer of <paramref name="socket"/>.</summary>
    /// <exception cref="SocketException">The kernel would not say (not a connected UNIX socket).</exception>
    public static PeerCredentials Of(Socket socket)
    {
        Span<byte> ucred = stackalloc byte[UcredBytes];
        int length = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        if (length != UcredBytes)
        {
            throw new SocketException((int)SocketError.ProtocolOption);
        }

        return new PeerCredentials(
            MemoryMarshal.Read<int>(ucred),
            MemoryMarshal.Read<uint>(ucred[4..]),
            MemoryMarshal.Read<uint>(ucred[8..]));
    }

    /// <summary>
    /// Why a monitor owned by user <paramref name="ownerId"/> refuses this peer, or null if it may connect: only
    /// the user who runs the machine may steer it.
    /// </summary>
    public string? RefusalBy(uint ownerId) =>
        UserId == ownerId ? null : $"refused a monitor connection from uid {UserId} (pid {ProcessId}): only uid {ownerId}, who runs this machine, may use its monitor";
}
