namespace SplitEmu.Shared.Profiles;

/// <summary>
/// What a profile may say about one device type, declared by the model itself (the device SDK's <c>IDeviceModel</c>)
/// and gathered by the device library's <c>DeviceCatalog</c>, from which the launcher validates profiles, the JSON
/// Schema's <c>type</c> enum is checked and the device-type table of docs/profiles.md is generated.
/// </summary>
/// <param name="Name">The <c>type</c> string in profiles, for example <c>uart16550</c>.</param>
/// <param name="PortCount">Number of I/O ports starting at <c>io</c>; 0 when the type has no movable port range (then <c>io</c> is refused).</param>
/// <param name="MmioSize">Bytes of MMIO starting at <c>mmio</c>; 0 when the type has no MMIO range (then <c>mmio</c> is refused).</param>
/// <param name="Irq">Whether the type uses an interrupt line given by <c>irq</c>.</param>
/// <param name="CanBeConsole">True when the device's output can be the machine's console.</param>
/// <param name="ConfigKeys">The keys the model reads from <c>config</c>; any other key is an error.</param>
public sealed record DeviceTypeInfo(
    string Name,
    int PortCount,
    ulong MmioSize,
    IrqUse Irq,
    bool CanBeConsole,
    IReadOnlyList<string> ConfigKeys)
{
    /// <summary>What the device is, in a line, for the generated docs table and `splitemu profiles --types` (Markdown allowed).</summary>
    public string Summary { get; init; } = "";

    /// <summary>What each of the <see cref="ConfigKeys"/> means, for the generated docs; a test requires one per key.</summary>
    public IReadOnlyDictionary<string, string> ConfigKeyMeanings { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The <see cref="ConfigKeys"/> whose values are file paths. They resolve like <c>load[].file</c> (relative to the
    /// folder of the profile that wrote the value, absolute, or <c>${splitemu}/</c>), must name an existing file, and
    /// the loaded profile's <c>DeviceConfig.Config</c> carries the absolute path.
    /// </summary>
    public IReadOnlyList<string> FileKeys { get; init; } = [];

    /// <summary>
    /// Set when the <see cref="FileKeys"/> files are raw disk images: each must be a positive multiple of this many
    /// bytes (whole sectors), checked at validation rather than when the device process opens it.
    /// </summary>
    public int? DiskSectorBytes { get; init; }

    /// <summary>True when the model has a receive side (<c>IConsoleInput</c>): as the console it is fed the launcher's standard input.</summary>
    public bool TakesInput { get; init; }

    /// <summary>True when the device does DMA into guest RAM: the launcher maps guest memory into its process only for these.</summary>
    public bool BusMaster { get; init; }

    /// <summary>True when the device may end the machine (a debug-exit port, the keyboard controller's reset line);
    /// the CPU process refuses a machine-exit event from any other device.</summary>
    public bool EndsMachine { get; init; }

    /// <summary>
    /// Why the model can only run in the CPU process, or null when it can run anywhere. For these types an absent
    /// <c>placement</c> binds as <c>inline</c> and any other placement is an error quoting this reason.
    /// </summary>
    public string? InlineOnlyReason { get; init; }

    /// <summary>True when the model lives in the CPU process: placement other than inline is an error.</summary>
    public bool InlineOnly => InlineOnlyReason is not null;

    /// <summary>The base port used when <c>io</c> is absent (only for types with <see cref="PortCount"/> &gt; 0); null: <c>io</c> is required.</summary>
    public ushort? DefaultIo { get; init; }

    /// <summary>Ports the model always decodes, whatever <c>io</c> says; the overlap check claims them like <c>io</c> ranges.</summary>
    public IReadOnlyList<PortRange> FixedPorts { get; init; } = [];

    /// <summary>MMIO the model always decodes (no <c>mmio</c> is given); the overlap check claims it like <c>mmio</c> ranges.</summary>
    public IReadOnlyList<MmioRange> FixedMmio { get; init; } = [];

    /// <summary>Interrupt lines the model always drives (not given by <c>irq</c>); no other device may use them.</summary>
    public IReadOnlyList<int> FixedIrqs { get; init; } = [];
}
