using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using SplitEmu.DeviceHost.Devices;
using SplitEmu.Launch.Supervision;

namespace SplitEmu.Launch.Remote;

/// <summary>
/// What a host offers device processes: the splitemu build, the device types it can serve and which build of the
/// device host it starts. <c>splitemu hosts info</c> prints it; <c>splitemu hosts check</c> asks each remote host for it.
/// </summary>
public sealed partial record HostInfo
{
    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>The splitemu build (its informational version: version and commit).</summary>
    public required string Splitemu { get; init; }

    /// <summary>The device types its device host serves (the types the CPU process builds itself are left out).</summary>
    public required IReadOnlyList<string> DeviceTypes { get; init; }

    /// <summary>Which build of the device host it starts: native or jit.</summary>
    public required string DeviceHost { get; init; }

    /// <summary>This machine's.</summary>
    public static HostInfo Local() => new()
    {
        Splitemu = Version,
        DeviceTypes = [.. DeviceCatalog.All.Values.Where(t => !t.InlineOnly).Select(t => t.Name)],
        DeviceHost = HostExecutables.Kind(HostExecutables.DeviceHost),
    };

    /// <summary>This build's version, as <c>hosts info</c> reports it.</summary>
    public static string Version =>
        typeof(HostInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>One line of JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    /// <summary>Most device types a host's answer may list.</summary>
    private const int MaxDeviceTypes = 64;

    /// <summary>
    /// Reads what a remote <c>hosts info --json</c> printed (untrusted): null when it is not that. Every field is
    /// checked to be what a splitemu host would say (plain words of bounded length), so printing it is safe.
    /// </summary>
    public static HostInfo? Parse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<HostInfo>(json, s_json) is { Splitemu: not null, DeviceTypes: not null, DeviceHost: not null } info
                && VersionPattern().IsMatch(info.Splitemu)
                && WordPattern().IsMatch(info.DeviceHost)
                && info.DeviceTypes.Count <= MaxDeviceTypes
                && info.DeviceTypes.All(t => t is not null && WordPattern().IsMatch(t))
                ? info
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\A[A-Za-z0-9.+_-]{1,100}\z")]
    private static partial System.Text.RegularExpressions.Regex VersionPattern();

    [System.Text.RegularExpressions.GeneratedRegex(@"\A[a-z0-9-]{1,32}\z")]
    private static partial System.Text.RegularExpressions.Regex WordPattern();
}
