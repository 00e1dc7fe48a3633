using PolyType;
using StreamJsonRpc;

namespace SplitEmu.Shared.Rpc;

/// <summary>What the CPU and device processes tell the launcher.</summary>
[JsonRpcContract, GenerateShape(IncludeMethods = MethodShapeFlags.PublicInstance)]
public partial interface ILaunchCallbacks
{
    /// <summary>
    /// Bytes a device emitted on its output stream (a UART's transmitted bytes), starting at byte
    /// <paramref name="offset"/> of that stream. Offsets let the launcher drop bytes a restarted device
    /// re-emits while its journal is replayed, so the console shows every byte exactly once. Completes when the
    /// launcher has taken the bytes, which is late while the console's reader lags (back-pressure).
    /// </summary>
    Task DeviceOutput(string deviceId, long offset, byte[] data);
}
