namespace SplitEmu.Launch.Profiles;

/// <summary>What a profile may say about one device type; see <see cref="DeviceTypeCatalog"/>.</summary>
/// <param name="Name">The <c>type</c> string in profiles, for example <c>uart16550</c>.</param>
/// <param name="PortCount">Number of I/O ports starting at <c>io</c>; 0 when the type has no port range (then <c>io</c> is refused).</param>
/// <param name="MmioSize">Bytes of MMIO starting at <c>mmio</c>; 0 when the type has no MMIO range (then <c>mmio</c> is refused).</param>
/// <param name="Irq">Whether the type uses an interrupt line.</param>
/// <param name="CanBeConsole">True when the device's output can be the machine's console.</param>
/// <param name="ConfigKeys">The keys the model reads from <c>config</c>; any other key is an error.</param>
public sealed record DeviceTypeInfo(
    string Name,
    int PortCount,
    ulong MmioSize,
    IrqUse Irq,
    bool CanBeConsole,
    IReadOnlyList<string> ConfigKeys);

/// <summary>Whether a device type uses an interrupt line.</summary>
public enum IrqUse
{
    /// <summary>The type raises no interrupts; <c>irq</c> is refused.</summary>
    None,

    /// <summary><c>irq</c> may be given or left out (the model then polls or stays silent).</summary>
    Optional,

    /// <summary><c>irq</c> must be given.</summary>
    Required,
}
