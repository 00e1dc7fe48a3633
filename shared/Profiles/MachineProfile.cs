namespace SplitEmu.Shared.Profiles;

/// <summary>
/// A machine as described by a launch profile, after <c>extends</c> and <c>--set</c> were applied and
/// validation passed. Stateless configuration: live objects are built from it, never stored in it.
/// </summary>
public sealed record MachineProfile
{
    /// <summary>The schema version this profile was written for; see <see cref="ProfileDefaults.SchemaVersion"/>.</summary>
    public int SchemaVersion { get; init; } = ProfileDefaults.SchemaVersion;

    /// <summary>Machine name, used for the monitor socket and in reports.</summary>
    public string Name { get; init; } = "machine";

    /// <summary>Guest RAM.</summary>
    public MemoryConfig Memory { get; init; } = new();

    /// <summary>Images copied into guest memory before the CPU starts, in order.</summary>
    public IReadOnlyList<LoadConfig> Load { get; init; } = [];

    /// <summary>The initial CPU state.</summary>
    public CpuConfig Cpu { get; init; } = new();

    /// <summary>The PC BIOS ROM mapped below 4 GiB, or null for a machine without firmware.</summary>
    public FirmwareConfig? Firmware { get; init; }

    /// <summary>
    /// A Linux bzImage booted directly by the 32-bit boot protocol (no firmware), or null. In a profile returned by
    /// the launcher's ProfileLoader this is the absolute path of a checked image.
    /// </summary>
    public string? Kernel { get; init; }

    /// <summary>The initial RAM disk handed to <see cref="Kernel"/>, or null.</summary>
    public string? Initrd { get; init; }

    /// <summary>The kernel command line, or null for an empty one.</summary>
    public string? Cmdline { get; init; }

    /// <summary>Id of the device (a UART or a debug console) whose output is the machine's console, or null for none.</summary>
    public string? Console { get; init; }

    /// <summary>The devices of the machine.</summary>
    public IReadOnlyList<DeviceConfig> Devices { get; init; } = [];

    /// <summary>How isolated device processes are confined (docs/processes.md, "The sandbox").</summary>
    public SandboxMode Sandbox { get; init; } = SandboxMode.Strict;

    /// <summary>
    /// Warm device processes the machine keeps ready for restarts, shared by all its device processes (any spare can
    /// become any of them); null: <see cref="ProfileDefaults.DefaultSpares"/>, or fewer when the machine has fewer
    /// device processes that restart (docs/processes.md, "Spares").
    /// </summary>
    public int? Spares { get; init; }

    /// <summary>Machines device processes may run on, by name (docs/remote-devices.md); empty: this one only.</summary>
    public IReadOnlyDictionary<string, HostConfig> Hosts { get; init; } = new Dictionary<string, HostConfig>(StringComparer.Ordinal);
}

/// <summary>How isolated device processes are confined.</summary>
public enum SandboxMode
{
    /// <summary>
    /// Each in its own user, mount, network, IPC, UTS and cgroup namespaces, on an empty read-only root, with no new
    /// privileges and a seccomp allow-list, from the moment it is handed its devices.
    /// </summary>
    Strict,

    /// <summary>With the launcher's full rights and view (a warning says so).</summary>
    Off,
}

/// <summary>Guest RAM size and layout.</summary>
public sealed record MemoryConfig
{
    /// <summary>RAM size in MiB, mapped from guest-physical address 0.</summary>
    public int SizeMiB { get; init; } = ProfileDefaults.MemorySizeMiB;
}

/// <summary>One image to put into guest memory.</summary>
public sealed record LoadConfig
{
    /// <summary>Path of the image; relative paths are relative to the profile's folder.</summary>
    /// <remarks>
    /// In a profile returned by the launcher's ProfileLoader this is already the resolved absolute path
    /// (see docs/profiles.md, "Paths", for <c>${splitemu}/</c> and relative paths).
    /// </remarks>
    public string File { get; init; } = "";

    /// <summary>How to read the file.</summary>
    public ImageFormat Format { get; init; } = ImageFormat.Flat;

    /// <summary>Guest-physical load address (flat images).</summary>
    public ulong Address { get; init; }
}

/// <summary>
/// A PC BIOS ROM image (for example SeaBIOS's <c>bios.bin</c>). It is mapped read-only so that it ends at
/// 4 GiB (<see cref="ProfileDefaults.FirmwareTop"/>), and its last <see cref="ProfileDefaults.FirmwareShadowBytes"/>
/// (or all of it when it is smaller) are also visible below 1 MiB, ending at
/// <see cref="ProfileDefaults.FirmwareShadowEnd"/> (0xE0000-0xFFFFF for images of 128 KiB or more), as a PC's
/// shadow RAM. The CPU starts in <see cref="CpuStartMode.Reset"/>, at the reset vector inside the image.
/// </summary>
public sealed record FirmwareConfig
{
    /// <summary>Path of the ROM image; relative paths are relative to the profile's folder.</summary>
    /// <remarks>
    /// In a profile returned by the launcher's ProfileLoader this is already the resolved absolute path of an
    /// existing file whose size is a multiple of <see cref="ProfileDefaults.FirmwareSizeAlignment"/> between
    /// <see cref="ProfileDefaults.MinFirmwareBytes"/> and <see cref="ProfileDefaults.MaxFirmwareBytes"/>.
    /// </remarks>
    public string File { get; init; } = "";
}

/// <summary>The formats an image can have.</summary>
public enum ImageFormat
{
    /// <summary>Raw bytes copied to <see cref="LoadConfig.Address"/>.</summary>
    Flat,
}

/// <summary>How the CPU starts.</summary>
public sealed record CpuConfig
{
    /// <summary>The mode the loader puts the CPU in.</summary>
    public CpuStartMode Mode { get; init; } = CpuStartMode.Protected32Flat;

    /// <summary>Entry point (EIP) for <see cref="CpuStartMode.Protected32Flat"/>.</summary>
    public ulong Entry { get; init; }

    /// <summary>Initial stack pointer (ESP) for <see cref="CpuStartMode.Protected32Flat"/>.</summary>
    public ulong Stack { get; init; }

    /// <summary>How the vCPU runs guest code (docs/translator.md).</summary>
    public CpuExecution Execution { get; init; } = CpuExecution.Translator;

    /// <summary>
    /// How many vCPUs the machine has (1-<see cref="MaxCount"/>), one host thread each. The first is the bootstrap
    /// processor and starts as <see cref="Mode"/> says; the others wait for INIT and start-up IPIs from its local APIC.
    /// </summary>
    public int Count { get; init; } = 1;

    /// <summary>The most vCPUs a machine may have.</summary>
    public const int MaxCount = 8;
}

/// <summary>How the vCPU runs guest code.</summary>
public enum CpuExecution
{
    /// <summary>Hot blocks compiled to host code, the rest interpreted (the interpreter alone where there is no JIT).</summary>
    Translator,

    /// <summary>Every instruction interpreted.</summary>
    Interpreter,
}

/// <summary>Initial CPU states the loader can set up.</summary>
public enum CpuStartMode
{
    /// <summary>32-bit protected mode with flat 4 GiB code and data segments, paging off, interrupts off.</summary>
    Protected32Flat,

    /// <summary>The architectural reset state: real mode at F000:FFF0 (firmware entry).</summary>
    Reset,
}
