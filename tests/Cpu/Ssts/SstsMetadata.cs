using System.Text.Json;

namespace SplitEmu.Tests.Cpu.Ssts;

/// <summary>Per-opcode facts from the suite's metadata.json: status (normal, undefined...) and the defined-flags mask.</summary>
public sealed class SstsMetadata
{
    private readonly Dictionary<string, (string Status, ushort FlagsMask)> _entries = new(StringComparer.OrdinalIgnoreCase);

    public static SstsMetadata Load(string folder)
    {
        var metadata = new SstsMetadata();
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "metadata.json")));
        foreach (JsonProperty opcode in doc.RootElement.GetProperty("opcodes").EnumerateObject())
        {
            if (opcode.Value.TryGetProperty("reg", out JsonElement regs))
            {
                foreach (JsonProperty reg in regs.EnumerateObject())
                    metadata.Add($"{opcode.Name}.{reg.Name}", reg.Value);
            }
            else
            {
                metadata.Add(opcode.Name, opcode.Value);
            }
        }
        return metadata;
    }

    private void Add(string key, JsonElement entry)
    {
        string status = entry.TryGetProperty("status", out JsonElement s) ? s.GetString() ?? "normal" : "normal";
        ushort mask = entry.TryGetProperty("flags-mask", out JsonElement m) ? (ushort)m.GetInt32() : (ushort)0xFFFF;
        _entries[key] = (status, mask);
    }

    /// <summary>Status and flags mask for an opcode key like "00" or "F6.6".</summary>
    public (string Status, ushort FlagsMask) this[string key] => _entries.TryGetValue(key, out var e) ? e : ("normal", (ushort)0xFFFF);
}
