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
    /// <summary>Bytes of the device's output stream the launcher had acknowledged.</summary>
    public long OutputOffset { get; set; }

    /// <summary>The model's state (<see cref="Sdk.ISnapshotable.SaveState"/>).</summary>
    public byte[] State { get; set; } = [];

    /// <summary>
    /// Output emitted after <see cref="OutputOffset"/> that the launcher had not acknowledged: kept in the snapshot,
    /// so taking one never waits for the console's reader.
    /// </summary>
    public byte[] UnacknowledgedOutput { get; set; } = [];

    /// <summary>The interrupt lines the device held asserted (<see cref="DeviceLineLevels"/>).</summary>
    public uint AssertedLines { get; set; }
}
