using MemoryPack;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// What crosses the state area for one device: the model's own state and where its output stream stood, so a
/// restored device continues its stream at the same offset (and the launcher drops what it already has).
/// Append-only: never reorder, retype or remove a member.
/// </summary>
[MemoryPackable]
public sealed partial class DeviceSnapshot
{
    /// <summary>Bytes the device had emitted on its output stream.</summary>
    public long OutputOffset { get; set; }

    /// <summary>The model's state (<see cref="Sdk.ISnapshotable.SaveState"/>).</summary>
    public byte[] State { get; set; } = [];
}
