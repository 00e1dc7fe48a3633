namespace SplitEmu.DeviceHost.Sdk;

/// <summary>What a device may do to the machine; provided by whichever process hosts it.</summary>
public interface IDeviceContext
{
    /// <summary>The device's id from the profile.</summary>
    string DeviceId { get; }

    /// <summary>Drives the device's interrupt line (the profile's irq) to <paramref name="asserted"/>.</summary>
    void SetIrq(bool asserted);

    /// <summary>Asks to end the machine with process exit code <paramref name="exitCode"/>.</summary>
    void RequestMachineExit(int exitCode, ulong guestValue);

    /// <summary>Appends to the device's output stream (a UART's transmitted bytes).</summary>
    void Output(ReadOnlySpan<byte> data);

    /// <summary>
    /// Asks to move, hide, show or remove region <paramref name="region"/> of this device. Called from inside a
    /// handler, the change is applied after that access completes and before the guest's next instruction;
    /// never a deadlock, never a stale map for the next instruction.
    /// </summary>
    void RequestMapChange(int region, MapChangeKind kind, ulong newBase = 0);
}
