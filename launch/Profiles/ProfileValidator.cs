using System.Globalization;
using System.Text.RegularExpressions;
using SplitEmu.DeviceHost.Devices;
using SplitEmu.Launch.Host;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Launch.Profiles;

/// <summary>
/// Every rule about what a bound profile means, in one place. Reports all problems (never stops at
/// the first) and stays silent about fields that already failed to bind. Each message says what is expected.
/// </summary>
internal sealed partial class ProfileValidator
{
    private const ulong BytesPerMiB = 1UL << 20;
    private const int PortSpaceSize = 0x1_0000;

    /// <summary>MMIO must sit below 4 GiB: the CPU starts in 32-bit modes without PAE.</summary>
    private const ulong MmioLimit = 1UL << 32;

    private readonly ProfileSourceMap _map;
    private readonly List<ProfileError> _errors;

    /// <summary>Files named in messages are shown relative to this folder.</summary>
    private readonly string _workingDirectory;

    private ProfileValidator(ProfileSourceMap map, string workingDirectory, List<ProfileError> errors)
    {
        _map = map;
        _workingDirectory = workingDirectory;
        _errors = errors;
    }

    /// <summary>
    /// Validates <paramref name="profile"/> and returns the absolute paths of the files it names (the load
    /// images, the firmware, device config file keys). Relative paths resolve as <see cref="ProfilePaths"/> says.
    /// </summary>
    public static ResolvedFiles Validate(MachineProfile profile, ProfileSourceMap map, string splitemuDirectory, string workingDirectory, List<ProfileError> errors)
    {
        var validator = new ProfileValidator(map, workingDirectory, errors);
        validator.CheckName(profile.Name);
        ulong? ramBytes = validator.CheckMemory(profile.Memory);
        (string? firmware, long? firmwareBytes) = validator.CheckFirmware(profile.Firmware, splitemuDirectory);
        IReadOnlyList<string?> images = validator.CheckLoad(profile.Load, ramBytes, firmwareBytes, splitemuDirectory);
        (string? kernel, string? initrd) = validator.CheckKernel(profile, ramBytes, splitemuDirectory);
        validator.CheckCpu(profile.Cpu, ramBytes, profile.Firmware is not null, profile.Kernel is not null);
        validator.CheckConsole(profile.Console, profile.Devices);
        if (profile.Spares is int spares)
        {
            validator.CheckRange("$.spares", spares, 0, ProfileDefaults.MaxSpares, "processes");
        }

        bool localApics = DeviceCatalog.HasLocalApics(profile.Cpu.Count, profile.Devices);
        Dictionary<(int Device, string Key), string> deviceFiles = validator.CheckDevices(profile.Devices, ramBytes, firmwareBytes, localApics, splitemuDirectory);
        Dictionary<(string Host, string Key), string> hostFiles = validator.CheckHosts(profile.Hosts, splitemuDirectory);
        validator.CheckDeviceHosts(profile.Devices, profile.Hosts);
        return new ResolvedFiles(images, firmware, deviceFiles) { Kernel = kernel, Initrd = initrd, HostFiles = hostFiles };
    }

    /// <summary>Resolves and checks the firmware image; returns its absolute path and its size when it is usable.</summary>
    private (string? Path, long? Bytes) CheckFirmware(FirmwareConfig? firmware, string splitemuDirectory)
    {
        const string filePath = "$.firmware.file";
        if (firmware is null || _map.HasFailed(filePath))
        {
            return (null, null);
        }

        string? fullPath = ResolveFile(firmware.File, filePath, splitemuDirectory);
        long? length = fullPath is null ? null : FileLength(fullPath, filePath, firmware.File, "firmware image", "a firmware image file");
        if (length is not { } bytes)
        {
            return (fullPath, null);
        }

        if (bytes is < ProfileDefaults.MinFirmwareBytes or > ProfileDefaults.MaxFirmwareBytes)
        {
            Report(filePath, $"firmware image '{firmware.File}' is {bytes} bytes; expected 64 KiB to 16 MiB ({ProfileDefaults.MinFirmwareBytes}-{ProfileDefaults.MaxFirmwareBytes} bytes)");
            return (fullPath, null);
        }

        if (bytes % ProfileDefaults.FirmwareSizeAlignment != 0)
        {
            Report(filePath, $"firmware image '{firmware.File}' is {bytes} bytes, not a whole number of 64 KiB blocks; expected a multiple of {ProfileDefaults.FirmwareSizeAlignment} bytes");
            return (fullPath, null);
        }

        return (fullPath, bytes);
    }

    /// <summary>Where the firmware's end is mirrored below 1 MiB, as a half-open range.</summary>
    private static (ulong Start, ulong End) FirmwareShadow(long firmwareBytes) =>
        (ProfileDefaults.FirmwareShadowEnd - (ulong)Math.Min(firmwareBytes, ProfileDefaults.FirmwareShadowBytes), ProfileDefaults.FirmwareShadowEnd);

    private void CheckName(string name)
    {
        if (!NamePattern().IsMatch(name))
        {
            Report("$.name", $"'{name}' is not a valid machine name; expected 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (it names the monitor socket)");
        }
    }

    private ulong? CheckMemory(MemoryConfig memory)
    {
        if (memory.SizeMiB is < ProfileDefaults.MinMemorySizeMiB or > ProfileDefaults.MaxMemorySizeMiB)
        {
            Report("$.memory.sizeMiB", $"memory size {memory.SizeMiB} MiB is out of range; expected {ProfileDefaults.MinMemorySizeMiB}-{ProfileDefaults.MaxMemorySizeMiB}");
            return null;
        }

        return _map.HasFailed("$.memory.sizeMiB") ? null : (ulong)memory.SizeMiB * BytesPerMiB;
    }

    private List<string?> CheckLoad(IReadOnlyList<LoadConfig> load, ulong? ramBytes, long? firmwareBytes, string splitemuDirectory)
    {
        var images = new List<string?>();
        for (int i = 0; i < load.Count; i++)
        {
            string path = $"$.load[{i}]";
            string filePath = path + ".file";
            LoadConfig image = load[i];
            if (_map.HasFailed(filePath))
            {
                images.Add(null);
                continue;
            }

            string? fullPath = ResolveFile(image.File, filePath, splitemuDirectory);
            images.Add(fullPath);
            if (fullPath is null)
            {
                continue;
            }

            long? length = FileLength(fullPath, filePath, image.File, "image", "an image file");
            if (length is null || ramBytes is null || _map.HasFailed(path + ".address"))
            {
                continue;
            }

            ulong end = image.Address + (ulong)length.Value;
            if (image.Address >= ramBytes || end > ramBytes)
            {
                Report(path + ".address", $"image '{image.File}' ({length} bytes at {Hex(image.Address)}) ends at {Hex(end)}, beyond the end of RAM at {Hex(ramBytes.Value)}; expected it to fit in RAM");
            }
            else if (firmwareBytes is { } bytes && FirmwareShadow(bytes) is var (shadowStart, shadowEnd) && image.Address < shadowEnd && shadowStart < end)
            {
                Report(path + ".address", $"image '{image.File}' ({length} bytes at {Hex(image.Address)}) overlaps the firmware's shadow {Hex(shadowStart)}-{Hex(shadowEnd - 1)}; expected it outside the shadow while firmware is set");
            }
        }

        return images;
    }

    /// <summary>Resolves a path written at <paramref name="jsonPath"/> against the folder of the file that wrote it (which an inherited value keeps).</summary>
    private string? ResolveFile(string written, string jsonPath, string splitemuDirectory)
    {
        string declaringDirectory = _map.LocationOf(jsonPath).Directory;
        string? fullPath = ProfilePaths.Resolve(written, declaringDirectory, splitemuDirectory, out string problem);
        if (fullPath is null)
        {
            Report(jsonPath, problem);
        }

        return fullPath;
    }

    /// <summary>The size of an existing, readable file; otherwise reports why not, naming it as <paramref name="noun"/>.</summary>
    private long? FileLength(string fullPath, string jsonPath, string written, string noun, string expectedKind)
    {
        if (Directory.Exists(fullPath))
        {
            Report(jsonPath, $"'{written}' is a folder ({ProfilePaths.Display(fullPath, _workingDirectory)}); expected {expectedKind}");
            return null;
        }

        if (!File.Exists(fullPath))
        {
            Report(jsonPath, $"{noun} '{written}' not found at {ProfilePaths.Display(fullPath, _workingDirectory)}; expected an existing file (relative paths are relative to the profile's folder; {ProfilePaths.SplitemuVariable}/ is the splitemu folder){(written.StartsWith(ProfilePaths.LinuxGuestVariable, StringComparison.Ordinal) ? $"; {ProfilePaths.LinuxGuestVariable}/ is the fetched Linux guest: run scripts/fetch-linux-guest.sh" : "")}");
            return null;
        }

        try
        {
            // A FIFO or a device (/dev/zero) has no size to check and may never end, or block the reader forever.
            UnixFileStatus status = UnixFileStatus.Of(fullPath);
            if (status.Kind != UnixFileKind.Regular)
            {
                Report(jsonPath, $"{noun} '{written}' is {status.KindWithArticle} ({ProfilePaths.Display(fullPath, _workingDirectory)}), not a regular file; expected {expectedKind}");
                return null;
            }

            return status.Size;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Report(jsonPath, $"{noun} '{written}' cannot be read ({e.Message}); expected a readable file");
            return null;
        }
    }

    /// <summary>A disk image of a type with <see cref="DeviceTypeInfo.DiskSectorBytes"/> must hold one or more whole sectors.</summary>
    private bool HasWholeSectors(DeviceTypeInfo type, string jsonPath, string written, long length)
    {
        if (type.DiskSectorBytes is not { } sector || (length > 0 && length % sector == 0))
        {
            return true;
        }

        Report(jsonPath, $"disk image '{written}' is {length} bytes; expected a positive multiple of {sector} bytes (whole sectors)");
        return false;
    }

    private void CheckCpu(CpuConfig cpu, ulong? ramBytes, bool hasFirmware, bool hasKernel)
    {
        if (cpu.Count is < 1 or > CpuConfig.MaxCount)
        {
            Report("$.cpu.count", $"{cpu.Count} vCPUs is out of range; expected 1-{CpuConfig.MaxCount}");
        }

        if (hasKernel)
        {
            CheckCpuForKernel(cpu);
            return;
        }

        if (hasFirmware && cpu.Mode != CpuStartMode.Reset)
        {
            // The other CPU checks assume the mode was meant; here it was not, so they would only add noise.
            string modeName = KebabCaseEnum.ToName(cpu.Mode);
            if (_map.Contains("$.cpu.mode"))
            {
                Report("$.cpu.mode", $"mode {modeName} cannot start firmware; expected reset when firmware is set (the CPU starts at the reset vector F000:FFF0 inside the firmware)");
            }
            else if (!_map.HasFailed("$.cpu.mode"))
            {
                Report("$.firmware", $"firmware needs cpu.mode reset, but the mode is the default {modeName}; expected \"cpu\": {{ \"mode\": \"reset\" }} (the CPU starts at the reset vector F000:FFF0 inside the firmware)");
            }

            return;
        }

        if (cpu.Mode != CpuStartMode.Protected32Flat)
        {
            string modeName = KebabCaseEnum.ToName(cpu.Mode);
            foreach (string field in new[] { "entry", "stack" })
            {
                if (_map.Contains("$.cpu." + field))
                {
                    Report("$.cpu." + field, $"{field} is used only with mode protected32-flat, not {modeName}; remove it (null removes an inherited value)");
                }
            }

            return;
        }

        if (!_map.Contains("$.cpu.entry"))
        {
            Report("$.cpu", "missing required property 'entry'; expected the entry address (EIP) for mode protected32-flat");
        }
        else if (ramBytes is { } ram && cpu.Entry >= ram)
        {
            Report("$.cpu.entry", $"entry {Hex(cpu.Entry)} is outside RAM; expected an address 0x0-{Hex(ram - 1)} for mode protected32-flat");
        }

        if (!_map.Contains("$.cpu.stack"))
        {
            Report("$.cpu", "missing required property 'stack'; expected the initial stack pointer (ESP) for mode protected32-flat");
        }
        else if (ramBytes is { } ram && (cpu.Stack == 0 || cpu.Stack > ram))
        {
            Report("$.cpu.stack", $"stack {Hex(cpu.Stack)} is outside RAM; expected 0x1-{Hex(ram)} (the stack grows down from this address)");
        }
    }

    private void CheckConsole(string? console, IReadOnlyList<DeviceConfig> devices)
    {
        if (console is null)
        {
            return;
        }

        string[] capableTypes = DeviceCatalog.All.Values.Where(t => t.CanBeConsole).Select(t => t.Name).ToArray();
        string capable = capableTypes.Length > 1 ? string.Join(", ", capableTypes[..^1]) + " or " + capableTypes[^1] : string.Join("", capableTypes);
        DeviceConfig? device = devices.FirstOrDefault(d => d.Id == console);
        if (device is null)
        {
            string candidates = string.Join(", ", devices.Where(d => DeviceCatalog.Find(d.Type)?.CanBeConsole == true).Select(d => d.Id));
            Report("$.console", $"no device with id '{console}'; expected the id of a {capable} device{(candidates.Length > 0 ? $" (one of: {candidates})" : "")}");
        }
        else if (DeviceCatalog.Find(device.Type) is { CanBeConsole: false } type)
        {
            Report("$.console", $"device '{console}' is a {type.Name}, which cannot be a console; expected the id of a {capable} device");
        }
    }

    /// <summary>Checks the devices; returns the resolved paths of their file config keys, by device index and key.</summary>
    private Dictionary<(int Device, string Key), string> CheckDevices(IReadOnlyList<DeviceConfig> devices, ulong? ramBytes, long? firmwareBytes, bool localApics, string splitemuDirectory)
    {
        var ports = new List<AddressRange>();
        var mmio = new List<AddressRange>();
        if (firmwareBytes is { } bytes)
        {
            mmio.Add(new AddressRange("", ProfileDefaults.FirmwareTop - (ulong)bytes, ProfileDefaults.FirmwareTop - 1) { Label = "the firmware ROM" });
        }

        if (localApics)
        {
            MmioRange page = DeviceCatalog.LocalApicPage;
            mmio.Add(new AddressRange("", page.Start, page.End) { Label = "the local APICs' registers" });
        }

        var irqs = new Dictionary<int, string>();
        var files = new Dictionary<(int Device, string Key), string>();
        CheckDeviceCounts(devices);
        var firstIndexOfId = new Dictionary<string, int>(StringComparer.Ordinal);

        // Fixed ports and lines first, so that a movable io or irq that collides with them is the one blamed.
        ClaimFixedResources(devices, ports, mmio, irqs);
        for (int i = 0; i < devices.Count; i++)
        {
            string path = $"$.devices[{i}]";
            DeviceConfig device = devices[i];
            if (_map.HasFailed(path))
            {
                continue;
            }

            CheckId(device.Id, path, firstIndexOfId, i);
            DeviceTypeInfo? type = DeviceCatalog.Find(device.Type);
            if (type is null)
            {
                Report(path + ".type", $"unknown device type '{device.Type}'; expected one of: {string.Join(", ", DeviceCatalog.All.Keys)}");
            }
            else
            {
                CheckPorts(device, type, path, ports);
                CheckMmio(device, type, path, mmio, ramBytes);
                CheckIrq(device, type, path, irqs);
                CheckConfigKeys(device, type, path);
                CheckConfigFiles(device, type, path, splitemuDirectory, i, files);
            }

            CheckPlacement(device, type, path);
            CheckWaitPolicy(device, path);
            CheckRestart(device.Restart, path + ".restart");
            CheckRange(path + ".accessTimeoutMs", device.AccessTimeoutMs, 1, ProfileDefaults.AccessTimeoutLimitMs, "ms");
            CheckRange(path + ".snapshotEvery", device.SnapshotEvery, 1, ProfileDefaults.SnapshotEveryLimit, "accesses");
            if (device.Crash is { } crash)
            {
                CheckCrash(device, crash, path + ".crash");
            }
        }

        CheckGroups(devices);
        return files;
    }

    /// <summary>Claims the ports, MMIO and interrupt lines each device's type always uses; two devices on the same fixed ranges collide here.</summary>
    private void ClaimFixedResources(IReadOnlyList<DeviceConfig> devices, List<AddressRange> ports, List<AddressRange> mmio, Dictionary<int, string> irqs)
    {
        for (int i = 0; i < devices.Count; i++)
        {
            string path = $"$.devices[{i}]";
            DeviceConfig device = devices[i];
            if (_map.HasFailed(path) || _map.HasFailed(path + ".type") || DeviceCatalog.Find(device.Type) is not { } type)
            {
                continue;
            }

            // One collision says it; the type's other fixed ranges and lines would only repeat it.
            bool collided = false;
            foreach (PortRange fixedPorts in type.FixedPorts)
            {
                var range = new AddressRange(device.Id, fixedPorts.Start, (ulong)fixedPorts.End) { FixedType = type.Name };
                if (!ClaimRange(range, ports, path + ".type", "I/O ports", "ports"))
                {
                    collided = true;
                    break;
                }
            }

            foreach (MmioRange fixedMmio in collided ? [] : type.FixedMmio)
            {
                var range = new AddressRange(device.Id, fixedMmio.Start, fixedMmio.End) { FixedType = type.Name };
                if (!ClaimRange(range, mmio, path + ".type", "MMIO", "MMIO"))
                {
                    collided = true;
                    break;
                }
            }

            foreach (int line in collided ? [] : type.FixedIrqs)
            {
                if (irqs.TryGetValue(line, out string? owner))
                {
                    Report(path + ".type", $"IRQ {line}, which device type {type.Name} always drives, is already used by {owner}; expected no other device on this line");
                    break;
                }

                irqs[line] = $"device '{device.Id}' ({type.Name} always drives it)";
            }
        }
    }

    /// <summary>
    /// Resolves the config values that are file paths, relative to the file that wrote each value. A device on another
    /// host opens its files there: the resolved path is checked by the device when it opens it on that host (a missing
    /// or malformed image fails the attach, naming the file), not against this machine's files.
    /// </summary>
    private void CheckConfigFiles(DeviceConfig device, DeviceTypeInfo type, string path, string splitemuDirectory, int index, Dictionary<(int Device, string Key), string> files)
    {
        foreach (string key in type.FileKeys)
        {
            string keyPath = JsonPath.Property(path + ".config", key);
            if (!device.Config.TryGetValue(key, out string? written) || _map.HasFailed(keyPath))
            {
                continue;
            }

            if (ResolveFile(written, keyPath, splitemuDirectory) is not { } fullPath)
            {
                continue;
            }

            if (device.Host is not null
                || (FileLength(fullPath, keyPath, written, "file", "a file") is { } length && HasWholeSectors(type, keyPath, written, length)))
            {
                files[(index, key)] = fullPath;
            }
        }
    }

    private void CheckId(string id, string path, Dictionary<string, int> firstIndexOfId, int index)
    {
        if (!IdPattern().IsMatch(id))
        {
            Report(path + ".id", $"'{id}' is not a valid device id; expected 1-64 letters, digits, '_' or '-', starting with a letter");
        }
        else if (firstIndexOfId.TryGetValue(id, out int first))
        {
            Report(path + ".id", $"device id '{id}' is already used by $.devices[{first}]; expected unique ids");
        }
        else
        {
            firstIndexOfId[id] = index;
        }
    }

    private void CheckPorts(DeviceConfig device, DeviceTypeInfo type, string path, List<AddressRange> taken)
    {
        string ioPath = path + ".io";
        if (type.PortCount == 0)
        {
            if (device.Io is not null)
            {
                Report(ioPath, type.FixedPorts.Count == 0
                    ? $"device type {type.Name} has no I/O ports; remove io"
                    : $"device type {type.Name} has only fixed I/O ports ({string.Join(", ", type.FixedPorts.Select(p => $"{Hex(p.Start)}-{Hex((ulong)p.End)}"))}); remove io");
            }

            return;
        }

        if (device.Io is not { } io)
        {
            if (_map.HasFailed(ioPath))
            {
                return;
            }

            Report(path, $"missing required property 'io'; expected the first of the {type.PortCount} I/O ports of a {type.Name}");
            return;
        }

        ulong end = io + (ulong)type.PortCount - 1;
        if (end >= PortSpaceSize)
        {
            Report(ioPath, $"ports {Hex(io)}-{Hex(end)} run past the last port 0xffff; expected a base port at most {Hex(PortSpaceSize - (ulong)type.PortCount)}");
            return;
        }

        ClaimRange(new AddressRange(device.Id, io, end), taken, ioPath, "I/O ports", "ports");
    }

    private void CheckMmio(DeviceConfig device, DeviceTypeInfo type, string path, List<AddressRange> taken, ulong? ramBytes)
    {
        string mmioPath = path + ".mmio";
        if (type.MmioSize == 0)
        {
            if (device.Mmio is not null)
            {
                Report(mmioPath, $"device type {type.Name} has no MMIO range; remove mmio");
            }

            return;
        }

        if (device.Mmio is not { } start)
        {
            if (_map.HasFailed(mmioPath))
            {
                return;
            }

            Report(path, $"missing required property 'mmio'; expected the base address of the {Hex(type.MmioSize)} bytes of MMIO of a {type.Name}");
            return;
        }

        if (start >= MmioLimit || MmioLimit - start < type.MmioSize)
        {
            Report(mmioPath, $"MMIO {Hex(start)} + {Hex(type.MmioSize)} runs past 4 GiB; expected a range below 0x100000000");
            return;
        }

        ulong end = start + type.MmioSize - 1;
        if (ramBytes is { } ram && start < ram)
        {
            Report(mmioPath, $"MMIO {Hex(start)}-{Hex(end)} of device '{device.Id}' overlaps RAM 0x0-{Hex(ram - 1)}; expected an address at or above {Hex(ram)}");
            return;
        }

        ClaimRange(new AddressRange(device.Id, start, end), taken, mmioPath, "MMIO", "MMIO");
    }

    /// <summary>Adds <paramref name="range"/> to <paramref name="taken"/>, or reports the first range it overlaps and returns false.</summary>
    private bool ClaimRange(AddressRange range, List<AddressRange> taken, string jsonPath, string what, string otherWhat)
    {
        foreach (AddressRange other in taken)
        {
            if (range.Start <= other.End && other.Start <= range.End)
            {
                string mine = range.FixedType is { } type
                    ? $"fixed {what} {Hex(range.Start)}-{Hex(range.End)} of device '{range.DeviceId}' ({type})"
                    : $"{what} {Hex(range.Start)}-{Hex(range.End)} of device '{range.DeviceId}'";
                string theirs = other.Label is { } label ? $"{label} {Hex(other.Start)}-{Hex(other.End)}"
                    : other.FixedType is { } otherType ? $"fixed {otherWhat} {Hex(other.Start)}-{Hex(other.End)} of device '{other.DeviceId}' ({otherType})"
                    : $"{otherWhat} {Hex(other.Start)}-{Hex(other.End)} of device '{other.DeviceId}'";
                string expected = range.FixedType is { } fixedType
                    ? $"no other device on these {(what == "MMIO" ? "addresses" : "ports")} (device type {fixedType} always uses them)"
                    : "a free range";
                Report(jsonPath, $"{mine} overlap {theirs}; expected {expected}");
                return false;
            }
        }

        taken.Add(range);
        return true;
    }

    private void CheckIrq(DeviceConfig device, DeviceTypeInfo type, string path, Dictionary<int, string> taken)
    {
        string irqPath = path + ".irq";
        if (device.Irq is not { } irq)
        {
            if (type.Irq == IrqUse.Required && !_map.HasFailed(irqPath))
            {
                Report(path, $"missing required property 'irq'; expected an interrupt line 0-{ProfileDefaults.MaxIrqLine} for a {type.Name}");
            }

            return;
        }

        if (type.Irq == IrqUse.None)
        {
            Report(irqPath, type.FixedIrqs.Count == 0
                ? $"device type {type.Name} raises no interrupts; remove irq"
                : $"device type {type.Name} always drives IRQ {string.Join(" and ", type.FixedIrqs)} itself; remove irq");
        }
        else if (irq is < 0 or > ProfileDefaults.MaxIrqLine)
        {
            Report(irqPath, $"IRQ {irq} is out of range; expected a line 0-{ProfileDefaults.MaxIrqLine}");
        }
        else if (taken.TryGetValue(irq, out string? owner))
        {
            Report(irqPath, $"IRQ {irq} is already used by {owner}; expected a free line 0-{ProfileDefaults.MaxIrqLine}");
        }
        else
        {
            taken[irq] = $"device '{device.Id}'";
        }
    }

    private void CheckConfigKeys(DeviceConfig device, DeviceTypeInfo type, string path)
    {
        foreach (string key in device.Config.Keys)
        {
            if (!type.ConfigKeys.Contains(key))
            {
                string expected = type.ConfigKeys.Count == 0
                    ? $"no config keys (device type {type.Name} reads none)"
                    : $"one of: {string.Join(", ", type.ConfigKeys)}";
                Report(JsonPath.Property(path + ".config", key), $"unknown config key '{key}' for device type {type.Name}; expected {expected}");
            }
        }
    }

    private void CheckPlacement(DeviceConfig device, DeviceTypeInfo? type, string path)
    {
        if (type?.InlineOnlyReason is { } reason && device.Placement != Placement.Inline)
        {
            Report(path + ".placement", $"device type {type.Name} runs only in the CPU process ({reason}); expected placement inline, or leave placement out");
        }

        string groupPath = path + ".group";
        if (device.Placement == Placement.Group)
        {
            if (device.Group is null && !_map.HasFailed(groupPath))
            {
                Report(path, "missing required property 'group'; expected a process group name when placement is group");
            }
            else if (device.Group is not null && !IdPattern().IsMatch(device.Group))
            {
                Report(groupPath, $"'{device.Group}' is not a valid group name; expected 1-64 letters, digits, '_' or '-', starting with a letter");
            }
        }
        else if (device.Group is not null)
        {
            Report(groupPath, $"group is used only with placement group, not {KebabCaseEnum.ToName(device.Placement)}; set placement to group or remove group (null removes an inherited value)");
        }
    }

    /// <summary>A group exists to share one process between devices; a group of one is a misspelt name or should be isolated.</summary>
    private void CheckGroups(IReadOnlyList<DeviceConfig> devices)
    {
        var members = devices
            .Select((device, index) => (device, index))
            .Where(d => d.device.Placement == Placement.Group && d.device.Group is not null)
            .GroupBy(d => d.device.Group!, StringComparer.Ordinal);
        foreach (var group in members)
        {
            if (group.Count() == 1)
            {
                var (device, index) = group.Single();
                Report($"$.devices[{index}].group", $"process group '{group.Key}' has only device '{device.Id}'; expected two or more devices per group (use placement isolated for a device alone in its process)");
                continue;
            }

            // One process serves the whole group: how it waits and how it is restarted are the process's, not a
            // device's. A member that says otherwise would be silently overruled by the first, so it is refused.
            var (first, _) = group.First();
            foreach (var (device, index) in group.Skip(1))
            {
                string path = $"$.devices[{index}]";
                if (device.WaitPolicy != first.WaitPolicy)
                {
                    Report(path + ".waitPolicy", GroupMismatch(group.Key, device, first, "waitPolicy", KebabCaseEnum.ToName(device.WaitPolicy), KebabCaseEnum.ToName(first.WaitPolicy)));
                }
                else if (device.SpinBudget != first.SpinBudget)
                {
                    Report(path + ".spinBudget", GroupMismatch(group.Key, device, first, "spinBudget", device.SpinBudget.ToString(CultureInfo.InvariantCulture), first.SpinBudget.ToString(CultureInfo.InvariantCulture)));
                }

                if (device.Restart != first.Restart)
                {
                    Report(path + ".restart", GroupMismatch(group.Key, device, first, "restart", Describe(device.Restart), Describe(first.Restart)));
                }
            }
        }
    }

    private static string GroupMismatch(string group, DeviceConfig device, DeviceConfig first, string setting, string value, string firstValue) =>
        $"device '{device.Id}' has {setting} {value} but '{first.Id}', the first of process group '{group}', has {firstValue}; the devices of one process share its {setting}: give each the same";

    private static string Describe(RestartConfig restart) =>
        $"{{ policy {KebabCaseEnum.ToName(restart.Policy)}, maxRestarts {restart.MaxRestarts}, windowMs {restart.WindowMs}, backoffMs {restart.BackoffMs}, giveUp {KebabCaseEnum.ToName(restart.GiveUp)} }}";

    /// <summary>A spin budget with a policy that does not spin is a contradiction, so it is refused rather than ignored.</summary>
    private void CheckWaitPolicy(DeviceConfig device, string path)
    {
        string budgetPath = path + ".spinBudget";
        if (device.WaitPolicy != WaitPolicy.Hybrid)
        {
            if (_map.Contains(budgetPath))
            {
                Report(budgetPath, $"spinBudget is used only with waitPolicy hybrid, not {KebabCaseEnum.ToName(device.WaitPolicy)}; set waitPolicy to hybrid or remove spinBudget (null removes an inherited value)");
            }

            return;
        }

        if (device.SpinBudget is < ProfileDefaults.MinSpinBudget or > ProfileDefaults.MaxSpinBudget)
        {
            Report(budgetPath, $"spin budget {device.SpinBudget} is out of range; expected {ProfileDefaults.MinSpinBudget}-{ProfileDefaults.MaxSpinBudget} iterations");
        }
    }

    private void CheckRestart(RestartConfig restart, string path)
    {
        CheckRange(path + ".maxRestarts", restart.MaxRestarts, 0, ProfileDefaults.RestartCountLimit, "restarts");
        CheckRange(path + ".windowMs", restart.WindowMs, 1, ProfileDefaults.RestartWindowLimitMs, "ms");
        CheckRange(path + ".backoffMs", restart.BackoffMs, 0, ProfileDefaults.RestartBackoffLimitMs, "ms");
    }

    private void CheckCrash(DeviceConfig device, CrashConfig crash, string path)
    {
        if (device.Placement == Placement.Inline)
        {
            Report(path, "crash injection kills a device process; expected placement isolated or group");
        }

        CheckRange(path + ".atAccess", (int)Math.Min(crash.AtAccess ?? 1, int.MaxValue), 1, int.MaxValue, "accesses");
        CheckRange(path + ".everyAccesses", (int)Math.Min(crash.EveryAccesses ?? 1, int.MaxValue), 1, int.MaxValue, "accesses");
        CheckRange(path + ".afterMs", crash.AfterMs ?? 0, 0, ProfileDefaults.AccessTimeoutLimitMs * 100, "ms");
        CheckRange(path + ".maxCrashes", crash.MaxCrashes ?? 1, 1, ProfileDefaults.RestartCountLimit, "crashes");
    }

    private void CheckRange(string path, int value, int min, int max, string unit)
    {
        if (value < min || value > max)
        {
            string name = path[(path.LastIndexOf('.') + 1)..];
            Report(path, $"{name} {value} is out of range; expected {min}-{max} {unit}");
        }
    }

    private void Report(string path, string message)
    {
        if (!_map.HasFailed(path))
        {
            _errors.Add(_map.LocationOf(path).Error(path, message));
        }
    }

    private static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>An inclusive range of ports or addresses claimed by a device (or, with a <see cref="Label"/>, by the machine).</summary>
    private sealed record AddressRange(string DeviceId, ulong Start, ulong End)
    {
        /// <summary>The device type whose fixed ports these are; null for a range given by <c>io</c> or <c>mmio</c>.</summary>
        public string? FixedType { get; init; }

        /// <summary>How to name a range that belongs to no device, such as the firmware ROM.</summary>
        public string? Label { get; init; }
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\z")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9_-]{0,63}\z")]
    private static partial Regex IdPattern();
}

/// <summary>The absolute paths of the files a valid profile names; null where a path could not be resolved.</summary>
/// <param name="Images">One per <c>load</c> entry.</param>
/// <param name="Firmware">The firmware image, or null without firmware.</param>
/// <param name="DeviceFiles">The values of device config file keys, by device index and key.</param>
internal sealed record ResolvedFiles(IReadOnlyList<string?> Images, string? Firmware, IReadOnlyDictionary<(int Device, string Key), string> DeviceFiles)
{
    /// <summary>The kernel image, or null without one.</summary>
    public string? Kernel { get; init; }

    /// <summary>The initrd, or null without one.</summary>
    public string? Initrd { get; init; }

    /// <summary>The key files of the remote hosts (<c>identity</c>, <c>knownHosts</c>), by host name and key.</summary>
    public IReadOnlyDictionary<(string Host, string Key), string> HostFiles { get; init; } = new Dictionary<(string Host, string Key), string>();
}
