using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace SplitEmu.Shared.Rpc;

/// <summary>
/// Passes file descriptors between the launcher and one child with SCM_RIGHTS, beside the child's JSON-RPC
/// connection: the CPU process hands the launcher its guest RAM and ring segments, the launcher hands each
/// device process only what it was granted. Nothing is ever opened by name (<c>/proc/PID/fd</c>), so the CPU
/// process can be non-dumpable and a sandboxed device process needs no view of other processes.
/// </summary>
/// <remarks>
/// A message is a 64-bit token and one descriptor on a SOCK_SEQPACKET socket (boundaries kept). The sender
/// picks the token and names it in the control message that uses the descriptor; the receiver asks for that
/// token, keeping any that arrive first for a later ask.
/// </remarks>
public sealed unsafe partial class DescriptorChannel : IDisposable
{
    /// <summary>Suffix of the descriptor socket's path after the control socket's path.</summary>
    public const string PathSuffix = ".fds";

    /// <summary>Descriptors kept for a later ask before the channel refuses more (a confused sender).</summary>
    private const int MaxKept = 64;

    private const int SolSocket = 1;
    private const int ScmRights = 1;
    private const int MsgNoSignal = 0x4000;
    private const int MsgCtrunc = 0x8;
    private const int MsgTrunc = 0x20;
    private const int MsgCmsgCloexec = 0x40000000;
    private const short PollIn = 1;

    private readonly Socket _socket;
    private readonly Lock _receiveGate = new();
    private readonly Dictionary<ulong, int> _kept = [];
    private long _nextToken;

    private DescriptorChannel(Socket socket) => _socket = socket;

    /// <summary>Listens for the child's descriptor connection at <paramref name="controlPath"/> + <see cref="PathSuffix"/>.</summary>
    public static Socket Listen(string controlPath)
    {
        Socket socket = new(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(controlPath + PathSuffix));
            socket.Listen(1);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Wraps an accepted connection.</summary>
    public static DescriptorChannel Over(Socket connected) => new(connected);

    /// <summary>Child side: connects to the launcher's descriptor socket beside <paramref name="controlPath"/>.</summary>
    public static DescriptorChannel Connect(string controlPath)
    {
        Socket socket = new(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(controlPath + PathSuffix));
            return new DescriptorChannel(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends a duplicate of <paramref name="descriptor"/> (the caller keeps its own) and returns the token the
    /// receiver asks for it by.
    /// </summary>
    public ulong Send(int descriptor)
    {
        ulong token = (ulong)Interlocked.Increment(ref _nextToken);
        byte* control = stackalloc byte[ControlSpace];
        new Span<byte>(control, ControlSpace).Clear();
        CmsgHeader* header = (CmsgHeader*)control;
        header->Length = (nuint)(sizeof(CmsgHeader) + sizeof(int));
        header->Level = SolSocket;
        header->Type = ScmRights;
        *(int*)(control + sizeof(CmsgHeader)) = descriptor;
        IoVector vector = new() { Base = &token, Length = sizeof(ulong) };
        MessageHeader message = new() { Vectors = &vector, VectorCount = 1, Control = control, ControlLength = (nuint)ControlSpace };
        using HandleUse use = Use();
        nint sent;
        do
        {
            sent = SendMessage(Handle, &message, MsgNoSignal);
        }
        while (sent < 0 && Marshal.GetLastPInvokeError() == 4); // EINTR
        if (sent != sizeof(ulong))
        {
            throw new IOException($"cannot pass a descriptor: errno {Marshal.GetLastPInvokeError()}");
        }

        return token;
    }

    /// <summary>
    /// Waits at most <paramref name="timeout"/> for the descriptor sent under <paramref name="token"/> and returns
    /// it; the caller owns it (close-on-exec).
    /// </summary>
    /// <exception cref="TimeoutException">It did not come in time.</exception>
    /// <exception cref="IOException">The connection ended or carried something else than one descriptor.</exception>
    public int Receive(ulong token, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_receiveGate)
        {
            using HandleUse use = Use();
            while (true)
            {
                if (_kept.Remove(token, out int kept))
                {
                    return kept;
                }

                long remaining = deadline - Environment.TickCount64;
                PollEntry entry = new() { Descriptor = Handle, Events = PollIn };
                int ready = remaining <= 0 ? 0 : Poll(&entry, 1, (int)Math.Min(remaining, int.MaxValue));
                if (ready == 0)
                {
                    throw new TimeoutException($"descriptor {token} did not arrive within {timeout.TotalMilliseconds} ms");
                }

                if (ready < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == 4)
                    {
                        continue; // EINTR
                    }

                    throw new IOException($"cannot wait for a descriptor: errno {errno}");
                }

                (ulong arrived, int descriptor) = ReceiveOne();
                if (arrived == token)
                {
                    return descriptor;
                }

                if (_kept.Count >= MaxKept || !_kept.TryAdd(arrived, descriptor))
                {
                    Close(descriptor);
                    throw new IOException($"descriptor channel: unexpected descriptor {arrived} while waiting for {token}");
                }
            }
        }
    }

    /// <summary>Closes a descriptor this process received and no longer needs.</summary>
    public static void Release(int descriptor)
    {
        if (descriptor >= 0)
        {
            Close(descriptor);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _socket.Dispose();
        lock (_receiveGate)
        {
            foreach (int descriptor in _kept.Values)
            {
                Close(descriptor);
            }

            _kept.Clear();
        }
    }

    /// <summary>
    /// The socket's descriptor number, for the system calls. Callers hold <see cref="Use"/> around them, so that a
    /// Dispose on another thread cannot close the number (and let it be reused) in the middle of a call.
    /// </summary>
    private int Handle => (int)_socket.SafeHandle.DangerousGetHandle();

    /// <summary>Keeps the socket's descriptor open until the returned scope ends.</summary>
    /// <exception cref="ObjectDisposedException">The channel was disposed.</exception>
    private HandleUse Use() => new(_socket.SafeHandle);

    private readonly struct HandleUse : IDisposable
    {
        private readonly SafeHandle _handle;

        public HandleUse(SafeHandle handle)
        {
            bool added = false;
            handle.DangerousAddRef(ref added);
            _handle = handle;
        }

        public void Dispose() => _handle.DangerousRelease();
    }

    /// <summary>CMSG_SPACE(sizeof(int)): the header and one descriptor, padded to 8 bytes.</summary>
    private static int ControlSpace => sizeof(CmsgHeader) + 8;

    private (ulong Token, int Descriptor) ReceiveOne()
    {
        // Room for more descriptors than a message may carry, so that a malformed one's are all received, and closed.
        const int Room = 16;
        int space = sizeof(CmsgHeader) + (Room * sizeof(int));
        ulong token = 0;
        byte* control = stackalloc byte[space];
        new Span<byte>(control, space).Clear();
        IoVector vector = new() { Base = &token, Length = sizeof(ulong) };
        MessageHeader message = new() { Vectors = &vector, VectorCount = 1, Control = control, ControlLength = (nuint)space };
        nint received;
        do
        {
            received = ReceiveMessage(Handle, &message, MsgCmsgCloexec);
        }
        while (received < 0 && Marshal.GetLastPInvokeError() == 4); // EINTR
        if (received < 0)
        {
            throw new IOException($"cannot receive a descriptor: errno {Marshal.GetLastPInvokeError()}");
        }

        CmsgHeader* header = (CmsgHeader*)control;
        int count = message.ControlLength >= (nuint)sizeof(CmsgHeader) && header->Level == SolSocket && header->Type == ScmRights
            ? (int)Math.Min(((long)header->Length - sizeof(CmsgHeader)) / sizeof(int), Room)
            : 0;
        int* descriptors = (int*)(control + sizeof(CmsgHeader));
        if (received == sizeof(ulong) && count == 1 && (message.Flags & (MsgCtrunc | MsgTrunc)) == 0)
        {
            return (token, descriptors[0]);
        }

        for (int i = 0; i < count; i++)
        {
            Close(descriptors[i]);
        }

        throw new IOException(received == 0 && count == 0
            ? "descriptor channel closed by its peer"
            : $"descriptor channel: malformed message ({received} bytes, {count} descriptors, flags 0x{message.Flags:X})");
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CmsgHeader
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollEntry
    {
        public int Descriptor;
        public short Events;
        public short ReturnedEvents;
    }

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMessage(int socket, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    private static partial nint ReceiveMessage(int socket, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollEntry* entries, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int descriptor);
}
