namespace SplitEmu.Shared.Rpc;

/// <summary>Addresses in the <see cref="AddressSpaceKind.PciConfig"/> space (configuration mechanism #1's layout).</summary>
public static class PciConfigAddress
{
    /// <summary>Bytes of configuration space per function (conventional PCI).</summary>
    public const ulong FunctionSize = 256;

    /// <summary>Size of the whole space: 256 buses of 32 devices of 8 functions.</summary>
    public const ulong SpaceSize = 1UL << 24;

    /// <summary>Register 0 of function <paramref name="bus"/>:<paramref name="device"/>.<paramref name="function"/>.</summary>
    public static ulong Of(int bus, int device, int function) =>
        ((ulong)(bus & 0xFF) << 16) | ((ulong)(device & 0x1F) << 11) | ((ulong)(function & 0x7) << 8);

    /// <summary>"bb:dd.f" for messages.</summary>
    public static string Format(ulong address) =>
        $"{(address >> 16) & 0xFF:x2}:{(address >> 11) & 0x1F:x2}.{(address >> 8) & 0x7:x}";
}
