namespace SplitEmu.DeviceHost.Common;

/// <summary>
/// Guest RAM as a bus master reaches it: through a mapping (<see cref="GuestMemoryWindow"/>) or, for a device on
/// another host, through calls (<c>RemoteDmaClient</c>). Either way a transfer outside the granted windows moves nothing.
/// </summary>
public interface IGuestMemory : IDisposable
{
    /// <summary>Reads guest RAM at <paramref name="address"/> into <paramref name="destination"/>; false, with nothing read, when refused.</summary>
    bool TryRead(ulong address, Span<byte> destination);

    /// <summary>Writes <paramref name="source"/> to guest RAM at <paramref name="address"/>; false, with nothing written, when refused.</summary>
    bool TryWrite(ulong address, ReadOnlySpan<byte> source);
}
