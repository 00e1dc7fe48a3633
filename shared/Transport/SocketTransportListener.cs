using System.Net.Sockets;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// The CPU side's end of the socket transport before a device connects: a UNIX domain socket listening at a
/// path handed to the device process over the control plane (as the segment path is for rings). The device
/// connects twice, requests first, then events, and says which is which in a hello frame.
/// </summary>
public sealed class SocketTransportListener : IDisposable
{
    private readonly Socket _listener;

    private SocketTransportListener(string path, Socket listener)
    {
        Path = path;
        _listener = listener;
    }

    /// <summary>The socket's path.</summary>
    public string Path { get; }

    /// <summary>Listens at <paramref name="path"/> (which must not exist).</summary>
    public static SocketTransportListener Create(string path)
    {
        Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.Listen(2);
            return new SocketTransportListener(path, socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Accepts the device's two connections (at most <paramref name="timeout"/>) and checks their hello frames.
    /// </summary>
    /// <exception cref="TimeoutException">The device did not connect in time.</exception>
    /// <exception cref="InvalidDataException">A hello frame was wrong.</exception>
    public SocketRequester Accept(TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        Socket? requests = null;
        Socket? events = null;
        try
        {
            for (int i = 0; i < 2; i++)
            {
                Socket connection = AcceptOne(deadline);
                ulong role = ReadHello(connection, deadline);
                if (role == SocketFrame.HelloRequests && requests is null)
                {
                    requests = connection;
                }
                else if (role == SocketFrame.HelloEvents && events is null)
                {
                    events = connection;
                }
                else
                {
                    connection.Dispose();
                    throw new InvalidDataException($"socket transport at {Path}: unexpected hello {role}");
                }
            }

            return new SocketRequester(requests!, events!);
        }
        catch
        {
            requests?.Dispose();
            events?.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _listener.Dispose();
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
            // Already gone.
        }
    }

    private Socket AcceptOne(DateTime deadline)
    {
        int remaining = (int)Math.Max(0, (deadline - DateTime.UtcNow).TotalMicroseconds);
        if (!_listener.Poll(remaining, SelectMode.SelectRead))
        {
            throw new TimeoutException($"no device connected to {Path} in time");
        }

        return _listener.Accept();
    }

    private ulong ReadHello(Socket connection, DateTime deadline)
    {
        Span<byte> frame = stackalloc byte[SocketFrame.Size];
        int filled = 0;
        while (filled < frame.Length)
        {
            int remaining = (int)Math.Max(0, (deadline - DateTime.UtcNow).TotalMicroseconds);
            if (!connection.Poll(remaining, SelectMode.SelectRead))
            {
                connection.Dispose();
                throw new TimeoutException($"the device connected to {Path} but sent no hello in time");
            }

            int read = connection.Receive(frame[filled..], SocketFlags.None, out SocketError error);
            if (error != SocketError.Success || read <= 0)
            {
                connection.Dispose();
                throw new InvalidDataException($"the device's connection to {Path} closed before its hello");
            }

            filled += read;
        }

        if (!SocketFrame.TryDecode(frame, out SocketFrameType type, out RingMessage hello) || type != SocketFrameType.Hello)
        {
            connection.Dispose();
            throw new InvalidDataException($"the device's first frame on {Path} is not a hello");
        }

        return hello.Value;
    }
}
