using System.ComponentModel;
using System.Diagnostics;
using System.Net.Sockets;
using SplitEmu.DeviceHost.Hosting.Sandbox;
using SplitEmu.Shared.Rpc;
using StreamJsonRpc;

namespace SplitEmu.Launch.Supervision;

/// <summary>
/// A CPU or device process started by the launcher, connected back over its own UNIX socket with JSON-RPC.
/// Its standard output and error are captured, tagged and kept (the last lines, for crash reports). Disposing
/// closes the connection, which makes the child exit; a child that does not is killed.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    /// <summary>How long a child has to connect back after it starts.</summary>
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(20);

    /// <summary>How long a child has to exit after its connection closes, before it is killed.</summary>
    private static readonly TimeSpan s_exitTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Lines of output kept per child.</summary>
    public const int KeptLines = 200;

    /// <summary>
    /// Largest control message a child may send (headers and body). Device output comes in batches of at most
    /// 16 KiB; replies about the machine (regions, stats) are a few KiB.
    /// </summary>
    public const int MaxMessageBytes = 4 * 1024 * 1024;

    private readonly Queue<string> _lastLines = new();

    /// <summary>Completes when both output streams reached their end (the child exited).</summary>
    private Task _outputRead = Task.CompletedTask;
    private readonly string _socketPath;

    private ChildProcess(string label, Process process, JsonRpc rpc, DescriptorChannel descriptors, string socketPath)
    {
        Label = label;
        Process = process;
        ProcessId = process.Id;
        Rpc = rpc;
        Descriptors = descriptors;
        _socketPath = socketPath;
    }

    /// <summary>Short name used to tag its output, e.g. "cpu" or "com1" ("spare3" until a spare is taken).</summary>
    public string Label { get; private set; }

    /// <summary>Tags its output as <paramref name="label"/> from now on (a spare taken by a device process).</summary>
    public void Relabel(string label) => Label = label;

    /// <summary>The process.</summary>
    public Process Process { get; }

    /// <summary>Which build of its program runs: "native" (NativeAOT) or "jit" (<see cref="HostExecutables.Kind"/>).</summary>
    public string Kind { get; private init; } = "jit";

    /// <summary>Its control connection (already listening).</summary>
    public JsonRpc Rpc { get; }

    /// <summary>Where memory is passed to it, or from it (the CPU process's RAM and rings), as descriptors.</summary>
    public DescriptorChannel Descriptors { get; }

    /// <summary>
    /// Its process id, taken at start: <see cref="Process.Id"/> throws once the exit handler disposed the process,
    /// which a kill racing that handler would otherwise meet.
    /// </summary>
    public int ProcessId { get; }

    /// <summary>The last lines it wrote to stdout/stderr.</summary>
    public IReadOnlyList<string> LastLines
    {
        get
        {
            lock (_lastLines)
            {
                return [.. _lastLines];
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="program"/>, waits for it to connect to a socket in <paramref name="runFolder"/>, and
    /// serves <paramref name="callbacks"/> to it.
    /// </summary>
    public static async Task<ChildProcess> StartAsync(string program, string label, string runFolder, ILaunchCallbacks callbacks, TextWriter log, CancellationToken cancellationToken, params string[] extraArguments)
    {
        string socketPath = Path.Combine(runFolder, label + ".sock");
        using Socket listener = RpcConnection.Listen(socketPath);
        using Socket descriptorListener = DescriptorChannel.Listen(socketPath);
        // A device process started with the sandbox flag is also started inside the sandbox's namespaces.
        bool sandboxed = extraArguments.Contains(DeviceSandbox.Flag);
        ProcessStartInfo info = HostExecutables.StartInfo(program, sandboxed);
        string kind = HostExecutables.Kind(program);
        info.ArgumentList.Add("--control");
        info.ArgumentList.Add(socketPath);
        foreach (string argument in extraArguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.UseShellExecute = false;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.RedirectStandardInput = true; // children never read the terminal; the launcher owns it

        Process process = await ChildSpawner.StartAsync(info).ConfigureAwait(false);
        process.EnableRaisingEvents = true;
        ChildProcess? child = null;
        Queue<string> early = new();
        try
        {
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(s_connectTimeout);
            Task<Socket> accept = listener.AcceptAsync(timeout.Token).AsTask();
            Task exited = process.WaitForExitAsync(timeout.Token);
            if (await Task.WhenAny(accept, exited).ConfigureAwait(false) != accept || !accept.IsCompletedSuccessfully)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string why = process.HasExited ? $"exited with code {process.ExitCode} before it connected" : "did not connect in time";
                string hint = sandboxed ? " (" + SandboxNamespaces.Hint + ")" : "";
                // Kill before reading: the output of a live child never ends.
                KillQuietly(process);
                string output = await ReadBrieflyAsync(process.StandardError).ConfigureAwait(false);
                throw new InvalidOperationException($"{program} {why}{(output.Length > 0 ? ": " + output.Trim() : "")}{hint}");
            }

            Socket socket = await accept.ConfigureAwait(false);
            // The child connects its descriptor channel right after its control connection.
            Task<Socket> acceptDescriptors = descriptorListener.AcceptAsync(timeout.Token).AsTask();
            if (await Task.WhenAny(acceptDescriptors, exited).ConfigureAwait(false) != acceptDescriptors || !acceptDescriptors.IsCompletedSuccessfully)
            {
                socket.Dispose();
                cancellationToken.ThrowIfCancellationRequested();
                KillQuietly(process);
                throw new InvalidOperationException($"{program} connected its control socket but not its descriptor socket");
            }

            DescriptorChannel descriptors = DescriptorChannel.Over(await acceptDescriptors.ConfigureAwait(false));
            // A child is not trusted: a message larger than any it sends legitimately ends its connection.
            BoundedMessageStream stream = new(new NetworkStream(socket, ownsSocket: true), MaxMessageBytes, $"{label} (pid {process.Id})");
            JsonRpc rpc = RpcConnection.Create(stream);
            rpc.AddLocalRpcTarget(RpcTargetMetadata.FromShape<ILaunchCallbacks>(), callbacks, null);
            if (callbacks is IRemoteDma dma)
            {
                // The remote end of a device on another host: its bus masters' DMA goes through it to the bridge.
                rpc.AddLocalRpcTarget(RpcTargetMetadata.FromShape<IRemoteDma>(), dma, null);
            }

            child = new ChildProcess(label, process, rpc, descriptors, socketPath) { Kind = kind };
            child.CaptureOutput(log);
            rpc.StartListening();
            return child;
        }
        catch
        {
            if (child is not null)
            {
                await child.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                KillQuietly(process);
                process.Dispose();
                File.Delete(socketPath);
                File.Delete(socketPath + DescriptorChannel.PathSuffix);
            }

            throw;
        }
    }

    /// <summary>
    /// The child <paramref name="starting"/> gives once started, if it is alive: a child that died is disposed, and
    /// one that failed to start (it cleaned up after itself) gives null too. For processes started ahead of need
    /// (spares, device processes started beside the CPU process) that their taker may find gone.
    /// </summary>
    public static async Task<ChildProcess?> LiveOnceStartedAsync(Task<ChildProcess> starting)
    {
        try
        {
            ChildProcess child = await starting.ConfigureAwait(false);
            if (!child.Process.HasExited)
            {
                return child;
            }

            await child.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or OperationCanceledException or Win32Exception or SocketException)
        {
            // It failed to start.
        }

        return null;
    }

    /// <summary>1 once someone took charge of this child's exit.</summary>
    private int _exitClaimed;

    /// <summary>True for the first caller only: that caller handles the child's exit.</summary>
    public bool TryClaimExit() => Interlocked.Exchange(ref _exitClaimed, 1) == 0;

    /// <summary>Kills the process at once (crash injection, or a child that will not stop).</summary>
    public void Kill() => KillQuietly(Process);

    /// <summary>How long the connection of a dead child may take to deliver what it had already sent.</summary>
    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(2);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (Process.HasExited)
        {
            // A dead child's last notifications (device output) may still sit in the socket: read them to the
            // end before closing, or a restarted device's stream would continue past bytes nobody received.
            await Rpc.Completion.WaitAsync(s_drainTimeout).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }

        Rpc.Dispose();
        Descriptors.Dispose();
        using (CancellationTokenSource timeout = new(s_exitTimeout))
        {
            try
            {
                await Process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                KillQuietly(Process);
                await Process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }

        // The readers end with the child's output; a grandchild that inherited it must not hold the launcher.
        await _outputRead.WaitAsync(s_drainTimeout).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        Process.Dispose();
        File.Delete(_socketPath);
        File.Delete(_socketPath + DescriptorChannel.PathSuffix);
    }

    private void CaptureOutput(TextWriter log)
    {
        int pid = Process.Id;
        void Keep(string text)
        {
            string line = $"[{Label} pid {pid}] {text}";
            lock (_lastLines)
            {
                if (_lastLines.Count == KeptLines)
                {
                    _lastLines.Dequeue();
                }

                _lastLines.Enqueue(line);
            }

            lock (log)
            {
                log.WriteLine(line);
            }
        }

        _outputRead = Task.WhenAll(
            Task.Run(() => BoundedLineReader.ReadLinesAsync(Process.StandardOutput.BaseStream, Keep)),
            Task.Run(() => BoundedLineReader.ReadLinesAsync(Process.StandardError.BaseStream, Keep)));
    }

    /// <summary>What a child that failed to start wrote, at most <see cref="BoundedLineReader.MaxLineBytes"/> characters.</summary>
    private static async Task<string> ReadBrieflyAsync(StreamReader reader)
    {
        using CancellationTokenSource limit = new(TimeSpan.FromSeconds(1));
        char[] buffer = new char[BoundedLineReader.MaxLineBytes];
        int length = 0;
        try
        {
            int read;
            while (length < buffer.Length && (read = await reader.ReadAsync(buffer.AsMemory(length), limit.Token).ConfigureAwait(false)) > 0)
            {
                length += read;
            }
        }
        catch (OperationCanceledException)
        {
            // Keep what came in time.
        }

        return new string(buffer, 0, length);
    }

    /// <summary>Kills <paramref name="process"/> and what it started; one that has exited already is left alone.</summary>
    internal static void KillQuietly(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }
}
