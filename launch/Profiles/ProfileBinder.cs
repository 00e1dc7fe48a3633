using System.Globalization;
using SplitEmu.DeviceHost.Devices;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Launch.Profiles;

/// <summary>
/// Turns the merged <see cref="SourceObject"/> tree into a <see cref="MachineProfile"/>, checking
/// only shapes: known property names, JSON types, number formats and widths, enum spellings,
/// required properties. Meaning (ranges, conflicts, files) is <see cref="ProfileValidator"/>'s job.
/// Absent properties take the model's defaults.
/// </summary>
internal sealed class ProfileBinder
{
    // The property names each object accepts. SchemaInStepTests checks them against the model and the schema.
    internal static readonly string[] RootKeys = ["$schema", "schemaVersion", "name", "extends", "memory", "load", "cpu", "firmware", "kernel", "initrd", "cmdline", "console", "devices", "sandbox", "spares", "hosts"];
    internal static readonly string[] HostKeys = ["url", "identity", "knownHosts", "splitemu"];
    internal static readonly string[] MemoryKeys = ["sizeMiB"];
    internal static readonly string[] LoadKeys = ["file", "format", "address"];
    internal static readonly string[] CpuKeys = ["mode", "entry", "stack", "execution", "count"];
    internal static readonly string[] FirmwareKeys = ["file"];
    internal static readonly string[] DeviceKeys = ["id", "type", "io", "mmio", "irq", "placement", "group", "waitPolicy", "spinBudget", "whileDown", "restart", "accessTimeoutMs", "snapshotEvery", "crash", "config", "host", "failover"];
    internal static readonly string[] RestartKeys = ["policy", "maxRestarts", "windowMs", "backoffMs", "giveUp"];
    internal static readonly string[] CrashKeys = ["atAccess", "everyAccesses", "onOffset", "afterMs", "maxCrashes"];

    private readonly List<ProfileError> _errors;
    private readonly ProfileSourceMap _map = new();

    private ProfileBinder(List<ProfileError> errors) => _errors = errors;

    /// <summary>Binds <paramref name="root"/>; shape errors are added to <paramref name="errors"/> and the failed fields keep their defaults.</summary>
    public static (MachineProfile Profile, ProfileSourceMap Map) Bind(SourceObject root, List<ProfileError> errors)
    {
        var binder = new ProfileBinder(errors);
        binder._map.Record(JsonPath.Root, root.Location);
        MachineProfile profile = binder.BindMachine(root);
        return (profile, binder._map);
    }

    private MachineProfile BindMachine(SourceObject obj)
    {
        const string path = JsonPath.Root;
        CheckKeys(obj, path, RootKeys);
        var profile = new MachineProfile();
        return profile with
        {
            SchemaVersion = ReadInt(obj, path, "schemaVersion") ?? profile.SchemaVersion,
            Name = ReadString(obj, path, "name") ?? profile.Name,
            Memory = ReadObject(obj, path, "memory") is { } memory ? BindMemory(memory, JsonPath.Property(path, "memory")) : profile.Memory,
            Load = ReadArray(obj, path, "load") is { } load ? BindItems(load, JsonPath.Property(path, "load"), BindLoad) : profile.Load,
            Cpu = ReadObject(obj, path, "cpu") is { } cpu ? BindCpu(cpu, JsonPath.Property(path, "cpu")) : profile.Cpu,
            Firmware = ReadObject(obj, path, "firmware") is { } firmware ? BindFirmware(firmware, JsonPath.Property(path, "firmware")) : null,
            Kernel = ReadString(obj, path, "kernel"),
            Initrd = ReadString(obj, path, "initrd"),
            Cmdline = ReadString(obj, path, "cmdline"),
            Console = ReadString(obj, path, "console"),
            Devices = ReadArray(obj, path, "devices") is { } devices ? BindItems(devices, JsonPath.Property(path, "devices"), BindDevice) : profile.Devices,
            Sandbox = ReadEnum<SandboxMode>(obj, path, "sandbox") ?? profile.Sandbox,
            Spares = ReadInt(obj, path, "spares"),
            Hosts = ReadObject(obj, path, "hosts") is { } hosts ? BindHosts(hosts, JsonPath.Property(path, "hosts")) : profile.Hosts,
        };
    }

    /// <summary>The <c>hosts</c> object: each property a host's name and its entry.</summary>
    private Dictionary<string, HostConfig> BindHosts(SourceObject obj, string path)
    {
        Dictionary<string, HostConfig> hosts = new(StringComparer.Ordinal);
        foreach (SourceProperty property in obj.Properties)
        {
            if (ReadObject(obj, path, property.Name) is { } host)
            {
                hosts[property.Name] = BindHost(host, JsonPath.Property(path, property.Name));
            }
        }

        return hosts;
    }

    private HostConfig BindHost(SourceObject obj, string path)
    {
        CheckKeys(obj, path, HostKeys);
        Require(obj, path, "url", "where the host is, as ssh://[user@]host[:port]");
        var host = new HostConfig();
        return host with
        {
            Url = ReadString(obj, path, "url") ?? host.Url,
            Identity = ReadString(obj, path, "identity"),
            KnownHosts = ReadString(obj, path, "knownHosts"),
            Splitemu = ReadString(obj, path, "splitemu") ?? host.Splitemu,
        };
    }

    private MemoryConfig BindMemory(SourceObject obj, string path)
    {
        CheckKeys(obj, path, MemoryKeys);
        var memory = new MemoryConfig();
        return memory with { SizeMiB = ReadInt(obj, path, "sizeMiB", allowHex: true) ?? memory.SizeMiB };
    }

    private LoadConfig BindLoad(SourceObject obj, string path)
    {
        CheckKeys(obj, path, LoadKeys);
        Require(obj, path, "file", "the image's path");
        Require(obj, path, "address", "the guest-physical load address");
        var load = new LoadConfig();
        return load with
        {
            File = ReadString(obj, path, "file") ?? load.File,
            Format = ReadEnum<ImageFormat>(obj, path, "format") ?? load.Format,
            Address = ReadUnsigned(obj, path, "address", ulong.MaxValue) ?? load.Address,
        };
    }

    private CpuConfig BindCpu(SourceObject obj, string path)
    {
        CheckKeys(obj, path, CpuKeys);
        var cpu = new CpuConfig();
        return cpu with
        {
            Mode = ReadEnum<CpuStartMode>(obj, path, "mode") ?? cpu.Mode,
            Entry = ReadUnsigned(obj, path, "entry", uint.MaxValue) ?? cpu.Entry,
            Stack = ReadUnsigned(obj, path, "stack", uint.MaxValue) ?? cpu.Stack,
            Execution = ReadEnum<CpuExecution>(obj, path, "execution") ?? cpu.Execution,
            Count = ReadInt(obj, path, "count") ?? cpu.Count,
        };
    }

    private FirmwareConfig BindFirmware(SourceObject obj, string path)
    {
        CheckKeys(obj, path, FirmwareKeys);
        Require(obj, path, "file", "the path of the BIOS ROM image");
        var firmware = new FirmwareConfig();
        return firmware with { File = ReadString(obj, path, "file") ?? firmware.File };
    }

    private DeviceConfig BindDevice(SourceObject obj, string path)
    {
        CheckKeys(obj, path, DeviceKeys);
        Require(obj, path, "id", "a unique device id such as \"com1\"");
        Require(obj, path, "type", $"one of: {string.Join(", ", DeviceCatalog.All.Keys)}");
        var device = new DeviceConfig();
        string type = ReadString(obj, path, "type") ?? device.Type;

        // Type-dependent defaults: a fixed-function model's usual base port, and inline for models that only run inline.
        DeviceTypeInfo? info = DeviceCatalog.Find(type);
        ushort? defaultIo = obj.Find("io") is null ? info?.DefaultIo : null;
        Placement defaultPlacement = info?.InlineOnly == true ? Placement.Inline : device.Placement;
        return device with
        {
            Id = ReadString(obj, path, "id") ?? device.Id,
            Type = type,
            Io = (ushort?)ReadUnsigned(obj, path, "io", ushort.MaxValue) ?? defaultIo,
            Mmio = ReadUnsigned(obj, path, "mmio", ulong.MaxValue),
            Irq = ReadInt(obj, path, "irq"),
            Placement = ReadEnum<Placement>(obj, path, "placement") ?? defaultPlacement,
            Group = ReadString(obj, path, "group"),
            Host = ReadString(obj, path, "host"),
            Failover = ReadStrings(obj, path, "failover") ?? device.Failover,
            WaitPolicy = ReadEnum<WaitPolicy>(obj, path, "waitPolicy") ?? device.WaitPolicy,
            SpinBudget = ReadInt(obj, path, "spinBudget") ?? device.SpinBudget,
            WhileDown = ReadEnum<DownBehavior>(obj, path, "whileDown") ?? device.WhileDown,
            Restart = ReadObject(obj, path, "restart") is { } restart ? BindRestart(restart, JsonPath.Property(path, "restart")) : device.Restart,
            AccessTimeoutMs = ReadInt(obj, path, "accessTimeoutMs") ?? device.AccessTimeoutMs,
            SnapshotEvery = ReadInt(obj, path, "snapshotEvery") ?? device.SnapshotEvery,
            Crash = ReadObject(obj, path, "crash") is { } crash ? BindCrash(crash, JsonPath.Property(path, "crash")) : null,
            Config = ReadObject(obj, path, "config") is { } config ? BindConfig(config, JsonPath.Property(path, "config")) : device.Config,
        };
    }

    private CrashConfig BindCrash(SourceObject obj, string path)
    {
        CheckKeys(obj, path, CrashKeys);
        return new CrashConfig
        {
            AtAccess = ReadInt(obj, path, "atAccess"),
            EveryAccesses = ReadInt(obj, path, "everyAccesses"),
            OnOffset = ReadUnsigned(obj, path, "onOffset", ulong.MaxValue),
            AfterMs = ReadInt(obj, path, "afterMs"),
            MaxCrashes = ReadInt(obj, path, "maxCrashes"),
        };
    }

    private RestartConfig BindRestart(SourceObject obj, string path)
    {
        CheckKeys(obj, path, RestartKeys);
        var restart = new RestartConfig();
        return restart with
        {
            Policy = ReadEnum<RestartPolicy>(obj, path, "policy") ?? restart.Policy,
            MaxRestarts = ReadInt(obj, path, "maxRestarts") ?? restart.MaxRestarts,
            WindowMs = ReadInt(obj, path, "windowMs") ?? restart.WindowMs,
            BackoffMs = ReadInt(obj, path, "backoffMs") ?? restart.BackoffMs,
            GiveUp = ReadEnum<GiveUpAction>(obj, path, "giveUp") ?? restart.GiveUp,
        };
    }

    /// <summary>
    /// Model settings: keys are checked per device type by the validator; values are strings. A JSON
    /// number or boolean is taken as its written text, so that <c>"baud": 115200</c> and
    /// <c>--set devices.com1.config.baud=115200</c> work without quoting.
    /// </summary>
    private Dictionary<string, string> BindConfig(SourceObject obj, string path)
    {
        var config = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (SourceProperty property in obj.Properties)
        {
            SourceNode? value = Field(obj, path, property.Name, out string fieldPath);
            if (value is SourceScalar { Kind: ScalarKind.String or ScalarKind.Number or ScalarKind.Boolean } scalar)
            {
                config[property.Name] = scalar.Text;
            }
            else
            {
                Fail(fieldPath, $"expected a string, number or boolean setting, found {value!.KindWithArticle}");
            }
        }

        return config;
    }

    private List<T> BindItems<T>(SourceArray array, string path, Func<SourceObject, string, T> bind)
        where T : new()
    {
        var items = new List<T>();
        for (int i = 0; i < array.Items.Count; i++)
        {
            string itemPath = JsonPath.Index(path, i);
            SourceNode item = array.Items[i];
            _map.Record(itemPath, item.Location);
            if (item is SourceObject obj)
            {
                items.Add(bind(obj, itemPath));
            }
            else
            {
                Fail(itemPath, item.Location, $"expected an object, found {item.KindWithArticle}");

                // Keep indexes aligned with the JSON so later paths stay right; the placeholder is never validated.
                items.Add(new T());
            }
        }

        return items;
    }

    private void CheckKeys(SourceObject obj, string path, string[] known)
    {
        foreach (SourceProperty property in obj.Properties)
        {
            if (!known.Contains(property.Name))
            {
                string propertyPath = JsonPath.Property(path, property.Name);
                _errors.Add(property.NameLocation.Error(propertyPath, $"unknown property '{property.Name}'; expected one of: {string.Join(", ", known)}"));
            }
        }
    }

    private void Require(SourceObject obj, string path, string name, string expected)
    {
        if (obj.Find(name) is null)
        {
            Fail(JsonPath.Property(path, name), obj.Location, $"missing required property '{name}'; expected {expected}", reportAt: path);
        }
    }

    /// <summary>Looks a property up and records where it was written.</summary>
    private SourceNode? Field(SourceObject obj, string path, string name, out string fieldPath)
    {
        fieldPath = JsonPath.Property(path, name);
        SourceProperty? property = obj.Find(name);
        if (property is null)
        {
            return null;
        }

        _map.Record(fieldPath, property.NameLocation);
        return property.Value;
    }

    private string? ReadString(SourceObject obj, string path, string name)
    {
        SourceNode? value = Field(obj, path, name, out string fieldPath);
        if (value is null or SourceScalar { Kind: ScalarKind.String })
        {
            return (value as SourceScalar)?.Text;
        }

        Fail(fieldPath, $"expected a string, found {value.KindWithArticle}");
        return null;
    }

    /// <summary>An array of strings; each item that is not one is reported (and left out).</summary>
    private List<string>? ReadStrings(SourceObject obj, string path, string name)
    {
        if (ReadArray(obj, path, name) is not { } array)
        {
            return null;
        }

        List<string> strings = [];
        string arrayPath = JsonPath.Property(path, name);
        for (int i = 0; i < array.Items.Count; i++)
        {
            string itemPath = JsonPath.Index(arrayPath, i);
            _map.Record(itemPath, array.Items[i].Location);
            if (array.Items[i] is SourceScalar { Kind: ScalarKind.String } text)
            {
                strings.Add(text.Text);
            }
            else
            {
                Fail(itemPath, array.Items[i].Location, $"expected a string (a host name), found {array.Items[i].KindWithArticle}");
            }
        }

        return strings;
    }

    private SourceObject? ReadObject(SourceObject obj, string path, string name)
    {
        SourceNode? value = Field(obj, path, name, out string fieldPath);
        if (value is null or SourceObject)
        {
            return value as SourceObject;
        }

        Fail(fieldPath, $"expected an object, found {value.KindWithArticle}");
        return null;
    }

    private SourceArray? ReadArray(SourceObject obj, string path, string name)
    {
        SourceNode? value = Field(obj, path, name, out string fieldPath);
        if (value is null or SourceArray)
        {
            return value as SourceArray;
        }

        Fail(fieldPath, $"expected an array, found {value.KindWithArticle}");
        return null;
    }

    private T? ReadEnum<T>(SourceObject obj, string path, string name)
        where T : struct, Enum
    {
        SourceNode? value = Field(obj, path, name, out string fieldPath);
        if (value is null)
        {
            return null;
        }

        string expected = $"one of: {string.Join(", ", KebabCaseEnum.Names<T>())}";
        if (value is not SourceScalar { Kind: ScalarKind.String } text)
        {
            Fail(fieldPath, $"expected a string, {expected}; found {value.KindWithArticle}");
            return null;
        }

        if (KebabCaseEnum.TryParse(text.Text, out T parsed))
        {
            return parsed;
        }

        Fail(fieldPath, $"'{text.Text}' is not a valid {name}; expected {expected}");
        return null;
    }

    /// <summary>Reads a JSON integer (or, with <paramref name="allowHex"/>, a "0x..." string) that fits in an int.</summary>
    private int? ReadInt(SourceObject obj, string path, string name, bool allowHex = false)
    {
        SourceNode? value = Field(obj, path, name, out string fieldPath);
        if (value is null)
        {
            return null;
        }

        if (!TryReadInteger(value, allowHex, out Int128 number, out string problem))
        {
            Fail(fieldPath, problem);
            return null;
        }

        if (number < int.MinValue || number > int.MaxValue)
        {
            Fail(fieldPath, $"{number} is too large; expected a number between {int.MinValue} and {int.MaxValue}");
            return null;
        }

        return (int)number;
    }

    /// <summary>Reads an address, port or size: a non-negative JSON integer or a "0x..." string, at most <paramref name="max"/>.</summary>
    private ulong? ReadUnsigned(SourceObject obj, string path, string name, ulong max)
    {
        SourceNode? value = Field(obj, path, name, out string fieldPath);
        if (value is null)
        {
            return null;
        }

        if (!TryReadInteger(value, allowHex: true, out Int128 number, out string problem))
        {
            Fail(fieldPath, problem);
            return null;
        }

        if (number < 0 || number > max)
        {
            Fail(fieldPath, $"{Hex(number)} is out of range; expected 0x0-0x{max:x}");
            return null;
        }

        return (ulong)number;
    }

    private static bool TryReadInteger(SourceNode value, bool allowHex, out Int128 number, out string problem)
    {
        number = 0;
        problem = "";
        string expected = allowHex ? "an integer or a hex string starting with 0x" : "an integer";
        switch (value)
        {
            case SourceScalar { Kind: ScalarKind.Number } json:
                if (Int128.TryParse(json.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number))
                {
                    return true;
                }

                problem = $"{json.Text} is not an integer; expected {expected}";
                return false;
            case SourceScalar { Kind: ScalarKind.String } text when allowHex:
                string digits = text.Text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text.Text[2..] : "";
                if (digits.Length is > 0 and <= 30 && digits.All(char.IsAsciiHexDigit)
                    && Int128.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out number))
                {
                    return true;
                }

                problem = $"'{text.Text}' is not a hex number; expected {expected}";
                return false;
            default:
                problem = $"expected {expected}, found {value.KindWithArticle}";
                return false;
        }
    }

    private static string Hex(Int128 number) => number < 0 ? number.ToString(CultureInfo.InvariantCulture) : "0x" + number.ToString("x", CultureInfo.InvariantCulture);

    private void Fail(string path, string message) => Fail(path, _map.LocationOf(path), message);

    private void Fail(string path, SourceLocation location, string message, string? reportAt = null)
    {
        _map.MarkFailed(path);
        _errors.Add(location.Error(reportAt ?? path, message));
    }
}
