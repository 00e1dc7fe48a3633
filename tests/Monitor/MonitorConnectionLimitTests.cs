using System.Net.Sockets;
using System.Text;
using SplitEmu.Launch.Monitor;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Monitor;

/// <summary>
/// A machine's monitor bounds what its clients can hold (real launcher, real sockets): clients beyond the limit
/// are closed at once, idle ones after the idle timeout, oversized requests at once; the machine keeps running
/// and a proper client is served afterwards.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class MonitorConnectionLimitTests
{
    /// <summary>Connections opened beyond the limit.</summary>
    private const int Extra = 4;

    /// <summary>The idle timeout the idle test gives its launcher (short, so the test does not wait a minute).</summary>
    private const int ShortIdleTimeoutMs = 1000;

    /// <summary>Bound for the launcher to close a connection it must close.</summary>
    private static readonly TimeSpan s_closeTimeout = TestDeadlines.Seconds(15);

    [Fact]
    public void ConnectionsBeyondTheLimit_AreClosedAtOnce_AndAProperClientWorksOnceTheOthersLeave()
    {
        using MonitoredMachine machine = new();
        List<Socket> connections = [];
        try
        {
            for (int i = 0; i < MonitorLimits.Default.MaxClients + Extra; i++)
            {
                connections.Add(Connect(machine.SocketPath));
            }

            Socket[] beyond = connections[^Extra..].ToArray();
            bool closed = ProcessTable.WaitUntil(() => beyond.All(IsClosedByPeer), s_closeTimeout);

            Assert.True(closed, "the connections beyond the limit must be closed by the launcher");
            Assert.False(IsClosedByPeer(connections[0]), "a connection within the limit must stay open");
            Assert.True(ProcessTable.IsAlive(machine.Run.ProcessId), "the machine must keep running");
            AssertLogSays(machine, $"monitor refuses connections: {MonitorLimits.Default.MaxClients} clients are connected");
        }
        finally
        {
            connections.ForEach(c => c.Dispose());
        }

        AssertAProperClientIsServed(machine);
    }

    [Fact]
    public void IdleAndOversizedClients_AreClosed_AndTheMachineKeepsServing()
    {
        using MonitoredMachine machine = new(environment: new Dictionary<string, string> { [MonitorLimits.IdleTimeoutVariable] = $"{ShortIdleTimeoutMs}" });
        using Socket idle = Connect(machine.SocketPath);
        using Socket oversized = Connect(machine.SocketPath);
        using Socket endlessHeader = Connect(machine.SocketPath);
        int tooLong = MonitorLimits.Default.MaxRequestBytes + 1;

        SendQuietly(oversized, Encoding.ASCII.GetBytes($"Content-Length: {tooLong}\r\n\r\n"));
        SendQuietly(endlessHeader, Encoding.ASCII.GetBytes(new string('a', tooLong)));
        bool closed = ProcessTable.WaitUntil(() => IsClosedByPeer(idle) && IsClosedByPeer(oversized) && IsClosedByPeer(endlessHeader), s_closeTimeout);

        Assert.True(closed, $"idle {IsClosedByPeer(idle)}, oversized {IsClosedByPeer(oversized)}, endless header {IsClosedByPeer(endlessHeader)}: all must be closed");
        Assert.True(ProcessTable.IsAlive(machine.Run.ProcessId), "the machine must keep running");
        AssertLogSays(machine, $"sent a request of {tooLong + $"Content-Length: {tooLong}\r\n\r\n".Length} bytes; the limit is {MonitorLimits.Default.MaxRequestBytes}");
        AssertLogSays(machine, $"sent more than {MonitorLimits.Default.MaxRequestBytes} bytes of headers");
        AssertAProperClientIsServed(machine);
    }

    /// <summary>The launcher's stderr says <paramref name="text"/> (soon: its lines reach the test through a pipe).</summary>
    private static void AssertLogSays(MonitoredMachine machine, string text) =>
        Assert.True(
            ProcessTable.WaitUntil(() => machine.Run.StandardError.Contains(text, StringComparison.Ordinal), s_closeTimeout),
            $"the launcher must log '{text}'. stderr:\n{machine.Run.StandardError}");

    /// <summary>`splitemu monitor` gets an answer (once the launcher has noticed the other clients left).</summary>
    private static void AssertAProperClientIsServed(MonitoredMachine machine)
    {
        string output = "";
        bool served = ProcessTable.WaitUntil(
            () =>
            {
                using SplitEmuProcess monitor = machine.Monitor("info machine");
                output = monitor.StandardOutput + monitor.StandardError;
                return monitor.ExitCode == 0;
            },
            s_closeTimeout);
        Assert.True(served, $"a proper client must be served:\n{output}");
        Assert.Contains($"name:     {machine.Name}", output, StringComparison.Ordinal);
    }

    private static Socket Connect(string path)
    {
        Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    /// <summary>Sends, ignoring a peer that already closed (it may close before it has read everything).</summary>
    private static void SendQuietly(Socket socket, byte[] bytes)
    {
        try
        {
            socket.Send(bytes);
        }
        catch (SocketException)
        {
            // Closed by the launcher: what the test waits for anyway.
        }
    }

    /// <summary>The launcher closed its end: a read would return at once with nothing (end of stream or reset).</summary>
    private static bool IsClosedByPeer(Socket socket)
    {
        try
        {
            return socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0;
        }
        catch (SocketException)
        {
            return true;
        }
    }
}
