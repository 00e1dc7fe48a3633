using StreamJsonRpc;
using SplitEmu.DeviceHost.Common;
using SplitEmu.DeviceHost.Devices;
using SplitEmu.DeviceHost.Hosting.Sandbox;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Timing;
using SplitEmu.Shared.Transport;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>The device process's control endpoint (see <see cref="IDeviceHostControl"/>).</summary>
public sealed class DeviceHostControl : IDeviceHostControl, IAsyncDisposable
{
    /// <summary>How long to wait for the CPU process to finish initialising the segment.</summary>
    private static readonly TimeSpan s_segmentReadyTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long a descriptor named in a request may take to arrive (the launcher sends it first).</summary>
    private static readonly TimeSpan s_descriptorTimeout = TimeSpan.FromSeconds(5);

    private readonly OutputForwarder _output;
    private readonly DescriptorChannel _descriptors;
    private readonly Lock _gate = new();
    private RingSegment? _segment;
    private IRequestServer? _responder;
    private DeviceServer? _server;
    private IReadOnlyList<string> _deviceIds = [];
    private DeviceTimers? _timers;
    private IReadOnlyList<IDevice> _devices = [];
    private IGuestMemory? _guestMemory;
    private readonly JsonRpc _rpc;

    /// <summary>Serves over <paramref name="rpc"/>, taking the memory it maps from <paramref name="descriptors"/>.</summary>
    public DeviceHostControl(JsonRpc rpc, DescriptorChannel descriptors)
    {
        _output = new OutputForwarder(rpc);
        _rpc = rpc;
        _descriptors = descriptors;
    }

    /// <summary>
    /// Started inside the launcher's namespaces (<see cref="DeviceSandbox.Flag"/>): lock down once the devices are
    /// built, before anything of the guest's reaches them.
    /// </summary>
    public bool Sandboxed { get; init; }

    /// <inheritdoc/>
    public Task<DeviceHostAttachResult> AttachAsync(DeviceHostAttachRequest request, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_responder is not null || _server is not null)
            {
                throw new InvalidOperationException("this device process is already attached; a device process serves one segment");
            }

            RingSegment? segment = null;
            IRequestServer responder;
            WaitSettings wait = new(request.WaitPolicy, request.SpinBudget) { PinnedCore = request.ServingCore };
            if (request.SocketPath is string socketPath)
            {
                responder = SocketResponder.Connect(socketPath, wait);
            }
            else
            {
                segment = RingSegment.Open(_descriptors.Receive(request.SegmentDescriptor, s_descriptorTimeout), s_segmentReadyTimeout);
                RingResponder ring = new(segment, wait);
                responder = request.InjectFault == TransportFault.ScribbleSegment ? new SegmentScribbler(segment, ring) : ring;
            }

            DeviceServer? server = null;
            MachineFacts machine = new(request.RamBytes, request.CpuCount);
            UnjournaledActivity unjournaled = new();
            List<IDevice> devices = [];
            List<DeviceLineLevels> lines = [];
            try
            {
                if (request.GuestMemory is { } share)
                {
                    _guestMemory = new GuestMemoryWindow(_descriptors.Receive(share.Descriptor, s_descriptorTimeout), share.Size, share.Windows);
                }
                else if (request.DmaOverControl)
                {
                    _guestMemory = new RemoteDmaClient(_rpc);
                }

                // Over a segment the clock is the CPU process's (it stops while the machine stands still); over a socket
                // there is none to share, so the host's.
                _timers = new DeviceTimers(request.Devices.Count, () => server?.WakeForTimers(), segment is null ? MachineClock.Host : MachineClock.Of(segment));
                foreach (var config in request.Devices)
                {
                    RingDeviceContext context = new(config, machine, _output, _timers, _guestMemory, unjournaled) { DeviceIndex = (ushort)devices.Count };
                    devices.Add(DeviceCatalog.Create(config, context));
                    lines.Add(context.Lines);
                    context.Connect(responder);
                }

                if (request.SocketPath is not null && devices.OfType<ITimedDevice>().FirstOrDefault() is { } timed)
                {
                    // The socket transport can wake its server only to stop it: a timer would end the serving.
                    throw new NotSupportedException($"device type {timed.GetType().Name} needs timers, which the socket transport does not support; use the ring");
                }

                if (Sandboxed)
                {
                    LockDownOrExit();
                }
            }
            catch
            {
                // A model refused its configuration (a bad disk image): release what was built; the caller reports it.
                foreach (IDisposable built in devices.OfType<IDisposable>())
                {
                    built.Dispose();
                }

                _timers?.Dispose();
                _timers = null;
                _guestMemory?.Dispose();
                _guestMemory = null;
                (responder as IDisposable)?.Dispose();
                segment?.Dispose();
                throw; // nothing is left attached: a later attach may try again
            }

            _responder = responder;
            _segment = segment;
            _devices = devices;
            _deviceIds = request.Devices.Select(d => d.Id).ToArray();
            server = new DeviceServer(responder, devices, _deviceIds, segment, _output, _timers, unjournaled, lines);
            _server = server;
            return Task.FromResult(new DeviceHostAttachResult
            {
                ProcessId = Environment.ProcessId,
                Regions = devices.Select(d => d.Regions).ToArray(),
            });
        }
    }

    /// <summary>A process that could not confine itself must not serve at all: half a sandbox is none.</summary>
    private static void LockDownOrExit()
    {
        try
        {
            DeviceSandbox.LockDown(RuntimeFolders());
        }
        catch (Exception ex)
        {
            // Whatever failed (a refused call, a missing entry point), part of the sandbox may be missing.
            Console.Error.WriteLine($"device-host: {ex.Message}; refusing to serve outside the sandbox");
            Environment.Exit(1);
        }
    }

    /// <summary>
    /// What a locked-down process must still read: nothing for the native host; the JIT host loads assemblies (its
    /// own and the runtime's) lazily, so those two folders stay, read-only.
    /// </summary>
    private static string[] RuntimeFolders() =>
        System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled
            ? [AppContext.BaseDirectory, System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory()]
            : [];

    /// <inheritdoc/>
    public async Task<DeviceHostStopResult> StopAsync(CancellationToken cancellationToken = default)
    {
        DeviceServer? server;
        lock (_gate)
        {
            server = _server;
            _server = null;
        }

        server?.Stop();
        _timers?.Dispose();
        DisposeDevices();
        await _output.FlushAsync().ConfigureAwait(false);
        DeviceAccessStats[] stats = new DeviceAccessStats[_deviceIds.Count];
        for (int i = 0; i < stats.Length; i++)
        {
            long outputBytes = _output.TotalBytes(_deviceIds[i]);
            stats[i] = server?.Stats(i, outputBytes) ?? new DeviceAccessStats { DeviceId = _deviceIds[i], OutputBytes = outputBytes };
        }

        return new DeviceHostStopResult { Devices = stats };
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        _server?.Stop();
        _timers?.Dispose();
        DisposeDevices();
        await _output.DisposeAsync().ConfigureAwait(false);
        _segment?.Dispose();
        _guestMemory?.Dispose();
        (_responder as IDisposable)?.Dispose();
    }

    /// <summary>Releases what models hold (a disk's image file) once no access can reach them; idempotent.</summary>
    private void DisposeDevices()
    {
        IReadOnlyList<IDevice> devices = Interlocked.Exchange(ref _devices, []);
        foreach (IDisposable device in devices.OfType<IDisposable>())
        {
            device.Dispose();
        }
    }
}
