namespace SplitEmu.Launch.Profiles;

/// <summary>
/// The device types profiles may name, with the address space each one takes. This is the one
/// place to register a new device model for profiles; the JSON Schema's <c>type</c> enum is kept
/// equal to it by a test (<c>SchemaInStepTests</c>), and the device-type table of docs/profiles.md is generated
/// from it (<see cref="DeviceTypeTable"/>, checked by <c>DocsInStepTests</c>).
/// </summary>
public static class DeviceTypeCatalog
{
    /// <summary>The piix3-ide disks: master and slave of each channel, each a raw disk image file.</summary>
    private static readonly string[] s_ideDisks = ["primary-master", "primary-slave", "secondary-master", "secondary-slave"];

    /// <summary>A 16550A UART: 8 registers at <c>io</c>..<c>io+7</c>.</summary>
    public static readonly DeviceTypeInfo Uart16550 = new("uart16550", PortCount: 8, MmioSize: 0, IrqUse.Required, CanBeConsole: true, ConfigKeys: []) { Summary = "16550A UART; as the console it takes the launcher's standard input", TakesInput = true };

    /// <summary>QEMU's isa-debug-exit: one port; a write ends the machine with an exit code.</summary>
    public static readonly DeviceTypeInfo DebugExit = new("debug-exit", PortCount: 1, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: []) { Summary = "QEMU's isa-debug-exit: a write of V ends the machine with exit code 2V+1", EndsMachine = true };

    /// <summary>A device for testing the machine: counts accesses, changes its own region on request, can stall (16 ports).</summary>
    public static readonly DeviceTypeInfo TestDevice = new("testdev", PortCount: 16, MmioSize: 0, IrqUse.Optional, CanBeConsole: false, ConfigKeys: []) { Summary = "for tests: counts accesses, moves its own region on request, can stall" };

    /// <summary>The transport benchmark's register block: 64 bytes of MMIO, reads count, writes are summed, marks time a guest loop.</summary>
    public static readonly DeviceTypeInfo BenchRegister = new("bench-register", PortCount: 0, MmioSize: 64, IrqUse.None, CanBeConsole: false, ConfigKeys: ["rpc-socket", "mark-file"]) { ConfigKeyMeanings = new Dictionary<string, string>
    {
        ["rpc-socket"] = "path of a UNIX socket the model serves JSON-RPC on (the benchmark listens there)",
        ["mark-file"] = "file the guest's marks are appended to; without it marks are only counted as writes",
    }, Summary = "the transport benchmark's register block" };

    /// <summary>The two cascaded 8259A PICs of a PC: fixed ports 0x20-0x21 (master), 0xA0-0xA1 (slave) and the ELCR at 0x4D0-0x4D1; the slave cascades on IRQ 2. Runs in the CPU process only.</summary>
    public static readonly DeviceTypeInfo I8259 = new("i8259", PortCount: 0, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: []) { Summary = "the two cascaded 8259A PICs, ELCR at 0x4D0", InlineOnlyReason = "interrupt delivery is the CPU's", FixedPorts = [new(0x20, 2), new(0xA0, 2), new(0x4D0, 2)], FixedIrqs = [2] };

    /// <summary>The i440FX PCI host bridge, function 00:00.0: configuration mechanism #1 at fixed ports 0xCF8-0xCFF. Runs in the CPU process only.</summary>
    public static readonly DeviceTypeInfo I440Fx = new("i440fx", PortCount: 0, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: []) { Summary = "PCI host bridge 00:00.0 (configuration mechanism #1)", InlineOnlyReason = "it forwards configuration cycles in the CPU process", FixedPorts = [new(0xCF8, 8)] };

    /// <summary>The PIIX3 PCI-to-ISA bridge, function 00:01.0: configuration space only, no ports.</summary>
    public static readonly DeviceTypeInfo Piix3Isa = new("piix3-isa", PortCount: 0, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: []) { Summary = "PCI-to-ISA bridge 00:01.0, configuration space only" };

    /// <summary>The PIIX3 IDE controller, function 00:01.1: two legacy channels at fixed ports 0x1F0-0x1F7/0x3F6 (IRQ 14) and 0x170-0x177/0x376 (IRQ 15), bus-master DMA at BAR4 (placed by the firmware); config keys name raw disk images.</summary>
    public static readonly DeviceTypeInfo Piix3Ide = new("piix3-ide", PortCount: 0, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: s_ideDisks) { ConfigKeyMeanings = s_ideDisks.ToDictionary(k => k, k => $"raw disk image of the {k.Replace('-', ' ')} drive"), Summary = "IDE controller 00:01.1, legacy mode, bus-master DMA at BAR4", FileKeys = s_ideDisks, DiskSectorBytes = 512, BusMaster = true, FixedPorts = [new(0x1F0, 8), new(0x3F6, 1), new(0x170, 8), new(0x376, 1)], FixedIrqs = [14, 15] };

    /// <summary>The 8254 interval timer: 4 ports at <c>io</c> (default 0x40) plus fixed port 0x61 (speaker and timer 2 gate); drives IRQ 0 itself.</summary>
    public static readonly DeviceTypeInfo I8254 = new("i8254", PortCount: 4, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: []) { Summary = "interval timer; 0x61 is the speaker and timer 2 gate", DefaultIo = 0x40, FixedPorts = [new(0x61, 1)], FixedIrqs = [0] };

    /// <summary>The MC146818 CMOS real-time clock: index and data ports at <c>io</c> (default 0x70); drives IRQ 8 itself.</summary>
    public static readonly DeviceTypeInfo Mc146818 = new("mc146818", PortCount: 2, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: ["boot-order"]) { ConfigKeyMeanings = new Dictionary<string, string>
    {
        ["boot-order"] = "the BIOS boot order in CMOS, as QEMU's -boot letters (a floppy, c disk, d CD-ROM, n network); default `cad`",
    }, Summary = "CMOS RTC", DefaultIo = 0x70, FixedIrqs = [8] };

    /// <summary>QEMU's debug console (isa-debugcon): one port at <c>io</c> (default 0x402); bytes written to it are text output.</summary>
    public static readonly DeviceTypeInfo DebugCon = new("debugcon", PortCount: 1, MmioSize: 0, IrqUse.None, CanBeConsole: true, ConfigKeys: []) { Summary = "QEMU debug console; its output is text", DefaultIo = 0x402 };

    /// <summary>QEMU's firmware configuration interface: fixed ports 0x510-0x511 (selector, data) and 0x514-0x51B (DMA address); config sercon-port and bootorder are values, not files.</summary>
    public static readonly DeviceTypeInfo FwCfg = new("fw-cfg", PortCount: 0, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: ["sercon-port", "bootorder", "boot-fail-wait", "nographic"]) { ConfigKeyMeanings = new Dictionary<string, string>
    {
        ["sercon-port"] = "the serial port SeaBIOS uses as its screen, e.g. `0x3f8` (fw_cfg item `etc/sercon-port`)",
        ["bootorder"] = "the boot order, device paths separated by newlines (fw_cfg item `bootorder`)",
        ["boot-fail-wait"] = "milliseconds SeaBIOS waits before rebooting after a failed boot, -1 never (fw_cfg item `etc/boot-fail-wait`)",
        ["nographic"] = "`true` sets the no-graphics item: SeaBIOS then uses COM1 as its screen unless told otherwise",
    }, Summary = "QEMU firmware configuration (selector and data, DMA address at 0x514); config values are values, not files", BusMaster = true, FixedPorts = [new(0x510, 2), new(0x514, 8)] };

    /// <summary>The 8042 PS/2 controller with a keyboard (no mouse): fixed ports 0x60 and 0x64, drives IRQ 1 and 12.</summary>
    public static readonly DeviceTypeInfo I8042 = new("i8042", PortCount: 0, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: []) { Summary = "PS/2 controller and keyboard; its reset line resets the machine", EndsMachine = true, FixedPorts = [new(0x60, 1), new(0x64, 1)], FixedIrqs = [1, 12] };

    /// <summary>ACPI fixed hardware: PM1a event and control blocks and the PM timer, 12 ports at <c>io</c> (default 0x600); the SCI on <c>irq</c> (9 on a PC); sleep type 5 powers off (ends the machine with exit code 0). A directly booted kernel finds it through the FADT the loader writes.</summary>
    public static readonly DeviceTypeInfo AcpiPm = new("acpi-pm", PortCount: 12, MmioSize: 0, IrqUse.Required, CanBeConsole: false, ConfigKeys: []) { Summary = "ACPI PM1 event/control blocks and PM timer; `irq` is the SCI (9 on a PC); sleep type 5 powers off (exit code 0); a directly booted kernel finds it through the loader's FADT", EndsMachine = true, DefaultIo = 0x600 };

    /// <summary>Every known type, by name.</summary>
    public static IReadOnlyDictionary<string, DeviceTypeInfo> All { get; } =
        new[] { Uart16550, DebugExit, TestDevice, BenchRegister, I8259, I440Fx, Piix3Isa, Piix3Ide, I8254, Mc146818, DebugCon, FwCfg, I8042, AcpiPm }.ToDictionary(t => t.Name, StringComparer.Ordinal);

    /// <summary>Looks a type up by its profile name (case-sensitive).</summary>
    public static DeviceTypeInfo? Find(string name) => All.GetValueOrDefault(name);
}
