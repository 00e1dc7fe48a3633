using System.Runtime.InteropServices;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// One 64-byte (cache-line) ring slot. The sequence number lives inside the slot and is written last with a
/// release store, so a consumer polls only the line it is about to read: one cache-line transfer per message.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public struct RingSlot
{
    /// <summary>Bytes per slot.</summary>
    public const int Size = 64;

    /// <summary>Ring position of the message in this slot plus one; 0 = never written.</summary>
    [FieldOffset(0)] public ulong Sequence;

    /// <summary>The message.</summary>
    [FieldOffset(8)] public RingMessage Message;
}
