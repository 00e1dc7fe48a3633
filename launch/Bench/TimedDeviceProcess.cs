using System.Diagnostics;
using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.DeviceHost.Hosting.Sandbox;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Launch.Bench;

/// <summary>
/// A device process started and attached to a ring of its own (no CPU process), with the time each half took: the
/// start (spawn until its control connection is up) and the attach (ring mapped, its device built, the sandbox
/// locked when asked). What `bench sandbox` and `bench processes` time. Disposing ends the process and the ring.
/// </summary>
internal sealed class TimedDeviceProcess : IAsyncDisposable
{
    private readonly RingSegment _segment;

    private TimedDeviceProcess(RingSegment segment, ChildProcess child, long startTicks, long attachTicks, DeviceHostAttachResult attached)
    {
        _segment = segment;
        Child = child;
        StartTicks = startTicks;
        AttachTicks = attachTicks;
        Attached = attached;
    }

    /// <summary>The process.</summary>
    public ChildProcess Child { get; }

    /// <summary>Stopwatch ticks from spawn until its control connection was up.</summary>
    public long StartTicks { get; }

    /// <summary>Stopwatch ticks of the attach.</summary>
    public long AttachTicks { get; }

    /// <summary>What the attach answered.</summary>
    public DeviceHostAttachResult Attached { get; }

    /// <summary>The test device a benchmark attaches when it does not name one.</summary>
    public static DeviceConfig BenchDevice => new() { Id = "bench", Type = TestDevice.TypeName, Io = 0x510 };

    /// <summary>
    /// Starts <paramref name="program"/> (a host name beside splitemu, or a path) as <paramref name="label"/> with its
    /// socket in <paramref name="folder"/>, sandboxed or not, and attaches <paramref name="device"/>.
    /// </summary>
    public static async Task<TimedDeviceProcess> StartAsync(string program, string folder, string label, bool sandboxed, DeviceConfig device, CancellationToken cancellationToken)
    {
        RingSegment segment = RingSegment.Create($"splitemu-timed-{Environment.ProcessId}-{label}", RingGeometry.Default, epoch: 1);
        ChildProcess? child = null;
        try
        {
            long started = Stopwatch.GetTimestamp();
            child = await ChildProcess.StartAsync(
                program, label, folder, new BenchDeviceProcess.NoCallbacks(), TextWriter.Null, cancellationToken, sandboxed ? [DeviceSandbox.Flag] : []).ConfigureAwait(false);
            long connected = Stopwatch.GetTimestamp();
            DeviceHostAttachResult attached = await child.Rpc.Attach<IDeviceHostControl>().AttachAsync(
                new DeviceHostAttachRequest { SegmentDescriptor = child.Descriptors.Send(segment.Memory.Descriptor), Devices = [device] },
                cancellationToken).ConfigureAwait(false);
            return new TimedDeviceProcess(segment, child, connected - started, Stopwatch.GetTimestamp() - connected, attached);
        }
        catch
        {
            if (child is not null)
            {
                await child.DisposeAsync().ConfigureAwait(false);
            }

            segment.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await Child.DisposeAsync().ConfigureAwait(false);
        _segment.Dispose();
    }
}
