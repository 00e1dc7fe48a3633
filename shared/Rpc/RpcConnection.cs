using System.Text.Json.Serialization.Metadata;
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
    public static JsonRpc Create(Stream stream)
    {
        SystemTextJsonFormatter formatter = new();
        // Our messages' metadata is source-generated (RpcJsonContext); anything else (what StreamJsonRpc sends of
        // its own, a type added without metadata) is described by reflection, as before.
        formatter.JsonSerializerOptions.TypeInfoResolver = JsonTypeInfoResolver.Combine(RpcJsonContext.Default, new DefaultJsonTypeInfoResolver());
        return new(new HeaderDelimitedMessageHandler(stream, stream, formatter));
    }
}
