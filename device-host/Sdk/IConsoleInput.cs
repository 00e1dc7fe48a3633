namespace SplitEmu.DeviceHost.Sdk;

/// <summary>
/// A device with a receive side (a UART): it can be fed the machine's console input. Like QEMU's chardev
/// can_receive plus receive in one call, so a device is never given more than it has room for.
/// </summary>
public interface IConsoleInput
{
    /// <summary>
    /// Takes as many leading bytes of <paramref name="data"/> as the device has room for now (0 when full) and
    /// returns how many. Called between accesses, never beside one. Must be deterministic in the device's state:
    /// after a crash the call is replayed and must take the same bytes again.
    /// </summary>
    int AcceptInput(ReadOnlySpan<byte> data);
}
