using SplitEmu.Shared.Rpc;

namespace SplitEmu.Tests.Devices.Contract;

/// <summary>
/// A device model as one placement hosts it, reached only through what that host offers the machine: accesses
/// with bus-error semantics, console input, region notices, reset, and the host's counters.
/// </summary>
public interface IPlacedDevice : IAsyncDisposable
{
    /// <summary><see cref="Input"/>'s answer when the device takes no input (or its model failed taking it).</summary>
    const int InputRefused = -1;

    /// <summary>A guest read: the device's answer, or all ones of <paramref name="size"/> when the access failed.</summary>
    ulong Read(int region, ulong offset, int size);

    /// <summary>A guest write (dropped when the access failed).</summary>
    void Write(int region, ulong offset, int size, ulong value);

    /// <summary>Console input: the count the device took, or <see cref="InputRefused"/>.</summary>
    int Input(int region, ReadOnlySpan<byte> data);

    /// <summary>Tells the device region <paramref name="region"/> left (<paramref name="gone"/>) or rejoined the map.</summary>
    void SetRegionGone(int region, bool gone);

    /// <summary>A machine reset of the device.</summary>
    void Reset();

    /// <summary>The host's counters of the device.</summary>
    DeviceAccessStats Stats();
}
