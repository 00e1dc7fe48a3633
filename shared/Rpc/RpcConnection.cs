using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using StreamJsonRpc;

namespace SplitEmu.Shared.Rpc;

/// <summary>
/// The control plane's wire: JSON-RPC (StreamJsonRpc, System.Text.Json) over a UNIX domain socket. The
/// launcher listens and each child connects back to the path it was given, so a child never outlives the
/// connection: when the launcher dies, the socket closes and the child exits.
/// </summary>
public static class RpcConnection
{
    /// <summary>Connects to the launcher's socket at <paramref name="path"/>.</summary>
    public static async Task<Stream> ConnectAsync(string path, CancellationToken cancellationToken)
    {
        Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Creates a listening socket at <paramref name="path"/> for one child.</summary>
    public static Socket Listen(string path)
    {
        Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.Listen(1);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Wraps a connected stream in a JSON-RPC connection (not yet listening).</summary>
    public static JsonRpc Create(Stream stream) => new(new HeaderDelimitedMessageHandler(stream, stream, CreateFormatter()));

    /// <summary>
    /// The formatter every process uses: System.Text.Json with only the source-generated metadata of
    /// <see cref="RpcJsonContext"/>, never reflection, so the native device host needs no runtime code (a type
    /// missing from the context fails its call with a clear error instead of being described by reflection).
    /// </summary>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Every type is described by the source-generated RpcJsonContext; reflection is off.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "Every type is described by the source-generated RpcJsonContext; reflection is off.")]
    private static SystemTextJsonFormatter CreateFormatter() => new()
    {
        JsonSerializerOptions = { TypeInfoResolver = RpcJsonContext.Default },
    };
}
