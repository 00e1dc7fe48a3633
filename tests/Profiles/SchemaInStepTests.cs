using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json;
using SplitEmu.DeviceHost.Devices;
using SplitEmu.Launch.Profiles;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Profiles;

/// <summary>
/// Keeps three descriptions of the profile format in step: the model records in
/// <c>shared/Profiles</c>, the loader's property tables, and <c>schema/splitemu-profile.schema.json</c>.
/// Adding a property to one without the others fails here.
/// </summary>
public sealed class SchemaInStepTests
{
    /// <summary>Properties of the root object that describe the file rather than the machine.</summary>
    private static readonly string[] s_fileOnlyRootKeys = ["$schema", "extends"];

    private static readonly JsonObject s_schema = JsonNode.Parse(File.ReadAllText(ProfileTestPaths.Schema))!.AsObject();

    /// <summary>Each model record, the <c>$defs</c> entry describing it (null for the root), and the loader's table.</summary>
    public static TheoryData<Type, string?, string[]> Records { get; } = new()
    {
        { typeof(MachineProfile), null, ProfileBinder.RootKeys.Except(s_fileOnlyRootKeys).ToArray() },
        { typeof(MemoryConfig), "memory", ProfileBinder.MemoryKeys },
        { typeof(LoadConfig), "load", ProfileBinder.LoadKeys },
        { typeof(CpuConfig), "cpu", ProfileBinder.CpuKeys },
        { typeof(FirmwareConfig), "firmware", ProfileBinder.FirmwareKeys },
        { typeof(DeviceConfig), "device", ProfileBinder.DeviceKeys },
        { typeof(RestartConfig), "restart", ProfileBinder.RestartKeys },
        { typeof(HostConfig), "host", ProfileBinder.HostKeys },
    };

    public static TheoryData<Type, string> Enums { get; } = new()
    {
        { typeof(ImageFormat), "imageFormat" },
        { typeof(CpuStartMode), "cpuStartMode" },
        { typeof(Placement), "placement" },
        { typeof(WaitPolicy), "waitPolicy" },
        { typeof(DownBehavior), "downBehavior" },
        { typeof(RestartPolicy), "restartPolicy" },
        { typeof(GiveUpAction), "giveUpAction" },
    };

    [Theory]
    [MemberData(nameof(Records))]
    public void SchemaPropertiesMatchTheModelRecord(Type record, string? definition, string[] loaderKeys)
    {
        string[] modelKeys = ModelKeys(record);
        string[] schemaKeys = SchemaProperties(definition).Keys().Except(definition is null ? s_fileOnlyRootKeys : []).Order().ToArray();

        Assert.Equal(modelKeys, schemaKeys);
        Assert.NotEmpty(loaderKeys);
    }

    [Theory]
    [MemberData(nameof(Records))]
    public void LoaderAcceptsExactlyTheModelRecordProperties(Type record, string? definition, string[] loaderKeys)
    {
        Assert.Equal(ModelKeys(record), loaderKeys.Order().ToArray());
        Assert.True(definition is null || s_schema["$defs"]![definition] is not null);
    }

    [Theory]
    [MemberData(nameof(Enums))]
    public void SchemaEnumMatchesTheModelEnum(Type enumType, string definition)
    {
        string[] schemaValues = s_schema["$defs"]![definition]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()).ToArray();

        Assert.Equal(KebabCaseEnum.Names(enumType), schemaValues);
    }

    [Fact]
    public void SchemaDeviceTypesMatchTheDeviceCatalog()
    {
        string[] schemaTypes = SchemaProperties("device")["type"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()).Order().ToArray();

        Assert.Equal(DeviceCatalog.All.Keys.Order().ToArray(), schemaTypes);
    }

    [Fact]
    public void EveryObjectInTheSchemaRejectsUnknownProperties()
    {
        var open = ObjectSchemas(s_schema, "#")
            .Where(o => o.Schema["additionalProperties"] is not JsonValue value || value.GetValueKind() != JsonValueKind.False)
            .Select(o => o.Pointer)
            .ToArray();

        // The two intended maps: config (its keys are checked per device type by the loader) and hosts (keyed by name,
        // each value a closed host object).
        Assert.Equal(["#/properties/hosts", "#/$defs/device/properties/config"], open);
    }

    [Theory]
    [MemberData(nameof(Records))]
    public void SchemaDefaultsMatchTheModelDefaults(Type record, string? definition, string[] loaderKeys)
    {
        object instance = Activator.CreateInstance(record)!;
        foreach ((string name, JsonNode? schema) in SchemaProperties(definition))
        {
            if (schema?["default"] is not { } schemaDefault || !loaderKeys.Contains(name))
            {
                continue;
            }

            object? modelDefault = record.GetProperty(char.ToUpperInvariant(name[0]) + name[1..])!.GetValue(instance);
            string expected = modelDefault is Enum e ? JsonSerializer.Serialize(KebabCaseEnum.Names(e.GetType())[Array.IndexOf(Enum.GetValues(e.GetType()), e)]) : JsonSerializer.Serialize(modelDefault);
            Assert.True(expected == schemaDefault.ToJsonString(), $"{record.Name}.{name}: model default {expected}, schema default {schemaDefault.ToJsonString()}");
        }
    }

    [Fact]
    public void SchemaLimitsMatchProfileDefaults()
    {
        JsonNode device = s_schema["$defs"]!["device"]!["properties"]!;
        JsonNode restart = s_schema["$defs"]!["restart"]!["properties"]!;
        JsonNode memory = s_schema["$defs"]!["memory"]!["properties"]!["sizeMiB"]!["anyOf"]![0]!;

        Assert.Equal((ProfileDefaults.MinMemorySizeMiB, ProfileDefaults.MaxMemorySizeMiB), (Int(memory["minimum"]), Int(memory["maximum"])));
        Assert.Equal(ProfileDefaults.MaxIrqLine, Int(device["irq"]!["maximum"]));
        Assert.Equal((ProfileDefaults.MinSpinBudget, ProfileDefaults.MaxSpinBudget), (Int(device["spinBudget"]!["minimum"]), Int(device["spinBudget"]!["maximum"])));
        Assert.Equal(ProfileDefaults.RestartCountLimit, Int(restart["maxRestarts"]!["maximum"]));
        Assert.Equal(ProfileDefaults.RestartWindowLimitMs, Int(restart["windowMs"]!["maximum"]));
        Assert.Equal(ProfileDefaults.RestartBackoffLimitMs, Int(restart["backoffMs"]!["maximum"]));
        Assert.Equal(ProfileDefaults.SchemaVersion, Int(s_schema["properties"]!["schemaVersion"]!["const"]));
    }

    [Fact]
    public void SchemaDeclaresDraft202012()
    {
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", s_schema["$schema"]!.GetValue<string>());
    }

    private static int Int(JsonNode? node) => node!.GetValue<int>();

    /// <summary>The record's public properties as profile keys (camelCase), sorted.</summary>
    private static string[] ModelKeys(Type record) =>
        record.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => char.ToLowerInvariant(p.Name[0]) + p.Name[1..])
            .Order()
            .ToArray();

    private static JsonObject SchemaProperties(string? definition) =>
        (definition is null ? s_schema["properties"] : s_schema["$defs"]![definition]!["properties"])!.AsObject();

    /// <summary>Every sub-schema that is, or may be, an object with properties, with its JSON pointer.</summary>
    private static IEnumerable<(string Pointer, JsonObject Schema)> ObjectSchemas(JsonNode node, string pointer)
    {
        if (node is JsonObject obj)
        {
            JsonNode? type = obj["type"];
            bool isObject = type is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() == "object"
                : type is JsonArray types && types.Any(t => t!.GetValue<string>() == "object");
            if (isObject)
            {
                yield return (pointer, obj);
            }

            foreach ((string key, JsonNode? child) in obj)
            {
                if (child is not null)
                {
                    foreach (var found in ObjectSchemas(child, $"{pointer}/{key}"))
                    {
                        yield return found;
                    }
                }
            }
        }
        else if (node is JsonArray array)
        {
            for (int i = 0; i < array.Count; i++)
            {
                if (array[i] is { } child)
                {
                    foreach (var found in ObjectSchemas(child, $"{pointer}/{i}"))
                    {
                        yield return found;
                    }
                }
            }
        }
    }
}

file static class JsonObjectExtensions
{
    public static IEnumerable<string> Keys(this JsonObject obj) => obj.Select(p => p.Key);
}
