namespace SplitEmu.DeviceHost.Sdk;

/// <summary>
/// A device model whose state can be saved and restored (MemoryPack, append-only contracts). A model that
/// implements it promises determinism: the same state plus the same accesses give the same state and answers,
/// so a restarted device gets its snapshot plus the journaled accesses since and continues exactly where it
/// was. A model without it is reset after a crash, and the report says so.
/// </summary>
public interface ISnapshotable
{
    /// <summary>The device's state now.</summary>
    byte[] SaveState();

    /// <summary>Replaces the device's state with <paramref name="state"/> (from <see cref="SaveState"/>).</summary>
    /// <exception cref="InvalidDataException">The bytes are not a state of this model.</exception>
    void RestoreState(ReadOnlySpan<byte> state);
}
