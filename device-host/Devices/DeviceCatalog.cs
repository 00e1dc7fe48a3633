using SplitEmu.DeviceHost.Devices.Bench;
using SplitEmu.DeviceHost.Devices.Debug;
using SplitEmu.DeviceHost.Devices.Firmware;
using SplitEmu.DeviceHost.Devices.Input;
using SplitEmu.DeviceHost.Devices.Pci;
using SplitEmu.DeviceHost.Devices.Power;
using SplitEmu.DeviceHost.Devices.Rtc;
using SplitEmu.DeviceHost.Devices.Serial;
using SplitEmu.DeviceHost.Devices.Storage;
using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.DeviceHost.Devices.Timer;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.DeviceHost.Devices;

/// <summary>
/// The device types profiles may name: every model of this library (each declares its own
/// <see cref="IDeviceModel{TSelf}.Type"/> and factory) and the types whose models are part of the CPU process
/// (described here so the launcher can validate them; built by the CPU host's platform). The one registry: the
/// launcher validates profiles against it, a test keeps the JSON Schema's <c>type</c> enum equal to it, and the
/// device-type table of docs/profiles.md is generated from it. Adding a model is its class and one line below.
/// </summary>
public static class DeviceCatalog
{
    /// <summary>The two cascaded 8259A PICs of a PC: fixed ports 0x20-0x21 (master), 0xA0-0xA1 (slave) and the ELCR at 0x4D0-0x4D1; the slave cascades on IRQ 2.</summary>
    public static readonly DeviceTypeInfo I8259 = new("i8259", PortCount: 0, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: [])
    {
        Summary = "the two cascaded 8259A PICs, ELCR at 0x4D0",
        InlineOnlyReason = "interrupt delivery is the CPU's",
        FixedPorts = [new(0x20, 2), new(0xA0, 2), new(0x4D0, 2)],
        FixedIrqs = [2],
    };

    /// <summary>
    /// The I/O APIC of a PC, registers at 0xFEC00000: ISA IRQ n on pin n except the timer's IRQ 0 on pin 2 (the
    /// MP table says so). With it the machine has local APICs, as with more than one vCPU.
    /// </summary>
    public static readonly DeviceTypeInfo IoApic = new("ioapic", PortCount: 0, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: [])
    {
        Summary = "the I/O APIC at 0xFEC00000 (ISA IRQ n on pin n, IRQ 0 on pin 2); brings the local APICs",
        InlineOnlyReason = "interrupt delivery is the CPU's",
        FixedMmio = [new(0xFEC0_0000, 0x1000)],
    };

    /// <summary>The i440FX PCI host bridge, function 00:00.0: configuration mechanism #1 at fixed ports 0xCF8-0xCFF.</summary>
    public static readonly DeviceTypeInfo I440Fx = new("i440fx", PortCount: 0, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: [])
    {
        Summary = "PCI host bridge 00:00.0 (configuration mechanism #1)",
        InlineOnlyReason = "it forwards configuration cycles in the CPU process",
        FixedPorts = [new(0xCF8, 8)],
    };

    /// <summary>Where every vCPU sees its own local APIC's registers (IA32_APIC_BASE's default; not relocatable here).</summary>
    public static readonly MmioRange LocalApicPage = new(0xFEE0_0000, 0x1000);

    /// <summary>
    /// Whether a machine with <paramref name="cpuCount"/> vCPUs and <paramref name="devices"/> has local APICs (CPUID
    /// says so, and <see cref="LocalApicPage"/> is theirs): when it has more than one vCPU (they start each other with
    /// IPIs) or an I/O APIC (it delivers through them). A single-vCPU machine without one keeps the plain 8259 CPU
    /// that firmware and old guests expect.
    /// </summary>
    public static bool HasLocalApics(int cpuCount, IEnumerable<DeviceConfig> devices) =>
        cpuCount > 1 || devices.Any(d => d.Type == IoApic.Name);

    /// <summary>Every type with the factory of its model (null: the CPU process's platform builds it), in the docs' order.</summary>
    private static readonly (DeviceTypeInfo Type, Func<DeviceConfig, IDeviceContext, IDevice>? Create)[] s_types =
    [
        Model<Uart16550>(),
        Model<DebugExit>(),
        Model<TestDevice>(),
        Model<BenchRegister>(),
        (I8259, null),
        (IoApic, null),
        (I440Fx, null),
        Model<Piix3IsaBridge>(),
        Model<Piix3Ide>(),
        Model<Pit8254>(),
        Model<CmosRtc>(),
        Model<DebugConsole>(),
        Model<FwCfg>(),
        Model<I8042>(),
        Model<AcpiPowerManagement>(),
    ];

    private static readonly Dictionary<string, Func<DeviceConfig, IDeviceContext, IDevice>?> s_factories =
        s_types.ToDictionary(t => t.Type.Name, t => t.Create, StringComparer.Ordinal);

    /// <summary>Every known type, by profile name, in the order the docs list them.</summary>
    public static IReadOnlyDictionary<string, DeviceTypeInfo> All { get; } = s_types.ToDictionary(t => t.Type.Name, t => t.Type, StringComparer.Ordinal);

    /// <summary>The types a model of this library builds (every type but the CPU process's own), by profile name.</summary>
    public static IReadOnlyList<string> ModelTypeNames { get; } = [.. s_types.Where(t => t.Create is not null).Select(t => t.Type.Name)];

    /// <summary>Looks a type up by its profile name (case-sensitive).</summary>
    public static DeviceTypeInfo? Find(string name) => All.GetValueOrDefault(name);

    /// <summary>Creates a device of <see cref="DeviceConfig.Type"/>.</summary>
    /// <exception cref="ArgumentException">The type is unknown or built by the CPU process's platform (profiles are validated before this, so that is a bug).</exception>
    public static IDevice Create(DeviceConfig config, IDeviceContext context)
    {
        if (s_factories.GetValueOrDefault(config.Type) is not { } factory)
        {
            throw new ArgumentException($"no model of this library builds device type '{config.Type}' (device '{config.Id}')", nameof(config));
        }

        return factory(config, context);
    }

    private static (DeviceTypeInfo, Func<DeviceConfig, IDeviceContext, IDevice>?) Model<T>()
        where T : IDeviceModel<T> => (T.Type, (config, context) => T.Create(config, context));
}
