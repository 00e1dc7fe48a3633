using PolyType;
using StreamJsonRpc;

namespace SplitEmu.Shared.Rpc;

/// <summary>Control endpoint of a device process, called by the launcher.</summary>
[JsonRpcContract, GenerateShape(IncludeMethods = MethodShapeFlags.PublicInstance)]
public partial interface IDeviceHostControl
{
    /// <summary>
    /// Maps the segment the CPU process created, creates the devices and starts serving their accesses.
    /// Returns the regions each device occupies, in device order.
    /// </summary>
    Task<DeviceHostAttachResult> AttachAsync(DeviceHostAttachRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stops serving, flushes every output stream to the launcher (all <see cref="ILaunchCallbacks.DeviceOutput"/>
    /// notifications are sent before this returns) and returns the per-device counters.
    /// </summary>
    Task<DeviceHostStopResult> StopAsync(CancellationToken cancellationToken = default);
}
