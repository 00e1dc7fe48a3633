using System.Globalization;
using System.Text.RegularExpressions;
using SplitEmu.Shared.Profiles;

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
    /// Validates <paramref name="profile"/> and returns the absolute path of each load image (null where
    /// it could not be resolved). Relative image paths resolve as <see cref="ProfilePaths"/> says.
    /// </summary>
    public static IReadOnlyList<string?> Validate(MachineProfile profile, ProfileSourceMap map, string splitemuDirectory, string workingDirectory, List<ProfileError> errors)
    {
        var validator = new ProfileValidator(map, workingDirectory, errors);
        validator.CheckName(profile.Name);
        ulong? ramBytes = validator.CheckMemory(profile.Memory);
        IReadOnlyList<string?> images = validator.CheckLoad(profile.Load, ramBytes, splitemuDirectory);
        validator.CheckCpu(profile.Cpu, ramBytes);
        validator.CheckConsole(profile.Console, profile.Devices);
        validator.CheckDevices(profile.Devices, ramBytes);
        return images;
    }

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

    private List<string?> CheckLoad(IReadOnlyList<LoadConfig> load, ulong? ramBytes, string splitemuDirectory)
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

            // The folder of the file that wrote this entry, which an inherited entry keeps.
            string declaringDirectory = _map.LocationOf(filePath).Directory;
            string? fullPath = ProfilePaths.Resolve(image.File, declaringDirectory, splitemuDirectory, out string problem);
            images.Add(fullPath);
            if (fullPath is null)
            {
                Report(filePath, problem);
                continue;
            }

            long? length = FileLength(fullPath, filePath, image.File);
            if (length is null || ramBytes is null || _map.HasFailed(path + ".address"))
            {
                continue;
            }

            ulong end = image.Address + (ulong)length.Value;
            if (image.Address >= ramBytes || end > ramBytes)
            {
                Report(path + ".address", $"image '{image.File}' ({length} bytes at {Hex(image.Address)}) ends at {Hex(end)}, beyond the end of RAM at {Hex(ramBytes.Value)}; expected it to fit in RAM");
            }
        }

        return images;
    }

    private long? FileLength(string fullPath, string jsonPath, string written)
    {
        if (Directory.Exists(fullPath))
        {
            Report(jsonPath, $"'{written}' is a folder ({ProfilePaths.Display(fullPath, _workingDirectory)}); expected an image file");
            return null;
        }

        if (!File.Exists(fullPath))
        {
            Report(jsonPath, $"image '{written}' not found at {ProfilePaths.Display(fullPath, _workingDirectory)}; expected an existing file (relative paths are relative to the profile's folder; {ProfilePaths.SplitemuVariable}/ is the splitemu folder)");
            return null;
        }

        try
        {
            return new FileInfo(fullPath).Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Report(jsonPath, $"image '{written}' cannot be read ({e.Message}); expected a readable file");
            return null;
        }
    }

    private void CheckCpu(CpuConfig cpu, ulong? ramBytes)
    {
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

        string capable = string.Join(", ", DeviceTypeCatalog.All.Values.Where(t => t.CanBeConsole).Select(t => t.Name));
        DeviceConfig? device = devices.FirstOrDefault(d => d.Id == console);
        if (device is null)
        {
            string candidates = string.Join(", ", devices.Where(d => DeviceTypeCatalog.Find(d.Type)?.CanBeConsole == true).Select(d => d.Id));
            Report("$.console", $"no device with id '{console}'; expected the id of a {capable} device{(candidates.Length > 0 ? $" (one of: {candidates})" : "")}");
        }
        else if (DeviceTypeCatalog.Find(device.Type) is { CanBeConsole: false } type)
        {
            Report("$.console", $"device '{console}' is a {type.Name}, which cannot be a console; expected the id of a {capable} device");
        }
    }

    private void CheckDevices(IReadOnlyList<DeviceConfig> devices, ulong? ramBytes)
    {
        var ports = new List<AddressRange>();
        var mmio = new List<AddressRange>();
        var irqs = new Dictionary<int, string>();
        var firstIndexOfId = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < devices.Count; i++)
        {
            string path = $"$.devices[{i}]";
            DeviceConfig device = devices[i];
            if (_map.HasFailed(path))
            {
                continue;
            }

            CheckId(device.Id, path, firstIndexOfId, i);
            DeviceTypeInfo? type = DeviceTypeCatalog.Find(device.Type);
            if (type is null)
            {
                Report(path + ".type", $"unknown device type '{device.Type}'; expected one of: {string.Join(", ", DeviceTypeCatalog.All.Keys)}");
            }
            else
            {
                CheckPorts(device, type, path, ports);
                CheckMmio(device, type, path, mmio, ramBytes);
                CheckIrq(device, type, path, irqs);
                CheckConfigKeys(device, type, path);
            }

            CheckPlacement(device, path);
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
                Report(ioPath, $"device type {type.Name} has no I/O ports; remove io");
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

    private void ClaimRange(AddressRange range, List<AddressRange> taken, string jsonPath, string what, string otherWhat)
    {
        foreach (AddressRange other in taken)
        {
            if (range.Start <= other.End && other.Start <= range.End)
            {
                Report(jsonPath, $"{what} {Hex(range.Start)}-{Hex(range.End)} of device '{range.DeviceId}' overlap {otherWhat} {Hex(other.Start)}-{Hex(other.End)} of device '{other.DeviceId}'; expected a free range");
                return;
            }
        }

        taken.Add(range);
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
            Report(irqPath, $"device type {type.Name} raises no interrupts; remove irq");
        }
        else if (irq is < 0 or > ProfileDefaults.MaxIrqLine)
        {
            Report(irqPath, $"IRQ {irq} is out of range; expected a line 0-{ProfileDefaults.MaxIrqLine}");
        }
        else if (taken.TryGetValue(irq, out string? owner))
        {
            Report(irqPath, $"IRQ {irq} is already used by device '{owner}'; expected a free line 0-{ProfileDefaults.MaxIrqLine}");
        }
        else
        {
            taken[irq] = device.Id;
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

    private void CheckPlacement(DeviceConfig device, string path)
    {
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
            }
        }
    }

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

    /// <summary>An inclusive range of ports or addresses claimed by a device.</summary>
    private sealed record AddressRange(string DeviceId, ulong Start, ulong End);

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\z")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9_-]{0,63}\z")]
    private static partial Regex IdPattern();
}
