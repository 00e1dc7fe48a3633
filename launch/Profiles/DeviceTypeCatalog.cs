namespace SplitEmu.Launch.Profiles;

/// <summary>
/// The device types profiles may name, with the address space each one takes. This is the one
/// place to register a new device model for profiles; the JSON Schema's <c>type</c> enum is kept
/// equal to it by a test (<c>SchemaInStepTests</c>).
/// </summary>
public static class DeviceTypeCatalog
{
    /// <summary>A 16550A UART: 8 registers at <c>io</c>..<c>io+7</c>.</summary>
    public static readonly DeviceTypeInfo Uart16550 = new("uart16550", PortCount: 8, MmioSize: 0, IrqUse.Required, CanBeConsole: true, ConfigKeys: []);

    /// <summary>QEMU's isa-debug-exit: one port; a write ends the machine with an exit code.</summary>
    public static readonly DeviceTypeInfo DebugExit = new("debug-exit", PortCount: 1, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: []);

    /// <summary>A device for testing the machine: counts accesses, changes its own region on request, can stall (16 ports).</summary>
    public static readonly DeviceTypeInfo TestDevice = new("testdev", PortCount: 16, MmioSize: 0, IrqUse.Optional, CanBeConsole: false, ConfigKeys: []);

    /// <summary>The transport benchmark's register block: 64 bytes of MMIO, reads count, writes are summed, marks time a guest loop.</summary>
    public static readonly DeviceTypeInfo BenchRegister = new("bench-register", PortCount: 0, MmioSize: 64, IrqUse.None, CanBeConsole: false, ConfigKeys: ["rpc-socket", "mark-file"]);

    /// <summary>Every known type, by name.</summary>
    public static IReadOnlyDictionary<string, DeviceTypeInfo> All { get; } =
        new[] { Uart16550, DebugExit, TestDevice, BenchRegister }.ToDictionary(t => t.Name, StringComparer.Ordinal);

    /// <summary>Looks a type up by its profile name (case-sensitive).</summary>
    public static DeviceTypeInfo? Find(string name) => All.GetValueOrDefault(name);
}
