using System.Globalization;
using System.Text;
using SplitEmu.DeviceHost.Devices;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.Launch.Profiles;

/// <summary>
/// The device-type table of docs/profiles.md, section 7, rendered from <see cref="DeviceCatalog"/>: the same
/// data the validator checks profiles against, so the docs cannot claim ports, lines or config keys the
/// validator does not. `splitemu profiles --types` prints it; a test fails when the committed copy differs.
/// </summary>
public static class DeviceTypeTable
{
    /// <summary>The line before the generated table in docs/profiles.md.</summary>
    public const string BeginMarker = "<!-- GENERATOR-BEGIN device-types: `splitemu profiles --types` prints this table; DocsInStepTests checks it -->";

    /// <summary>The line after it.</summary>
    public const string EndMarker = "<!-- GENERATOR-END device-types -->";

    /// <summary>
    /// The tables in Markdown: a line per type in catalog order, then a line per <c>config</c> key with its meaning;
    /// each line ends in '\n'.
    /// </summary>
    public static string Markdown()
    {
        StringBuilder table = new();
        table.Append("| type | `io` ports (default base) | fixed ports | MMIO | IRQ | console | `config` keys | notes |\n");
        table.Append("|---|---|---|---|---|---|---|---|\n");
        foreach (DeviceTypeInfo type in DeviceCatalog.All.Values)
        {
            string[] cells =
            [
                $"`{type.Name}`",
                Ports(type),
                string.Join(", ", type.FixedPorts.Select(Range)),
                type.MmioSize > 0 ? $"{type.MmioSize} bytes" : string.Join(", ", type.FixedMmio.Select(m => $"fixed: 0x{m.Start:X}-0x{m.End:X}")),
                Irq(type),
                type.CanBeConsole ? type.TakesInput ? "yes, with input" : "yes" : "",
                string.Join(", ", type.ConfigKeys.Select(k => type.FileKeys.Contains(k) ? $"`{k}` (file)" : $"`{k}`")),
                Notes(type),
            ];
            table.Append('|').AppendJoin("", cells.Select(c => c.Length == 0 ? " |" : $" {c} |")).Append('\n');
        }

        table.Append('\n');
        table.Append("| type | `config` key | meaning |\n");
        table.Append("|---|---|---|\n");
        foreach (DeviceTypeInfo type in DeviceCatalog.All.Values)
        {
            foreach (string key in type.ConfigKeys)
            {
                string file = type.FileKeys.Contains(key) ? " (a file, section 3)" : "";
                table.Append($"| `{type.Name}` | `{key}` | {type.ConfigKeyMeanings.GetValueOrDefault(key, "")}{file} |\n");
            }
        }

        return table.ToString();
    }

    private static string Ports(DeviceTypeInfo type) =>
        type.PortCount == 0 ? "" : type.DefaultIo is { } io ? $"{type.PortCount} ({Hex(io)})" : type.PortCount.ToString(CultureInfo.InvariantCulture);

    private static string Range(PortRange range) => range.Count == 1 ? Hex(range.Start) : $"{Hex(range.Start)}-{Hex(range.End)}";

    private static string Hex(int port) => "0x" + port.ToString("X", CultureInfo.InvariantCulture);

    private static string Irq(DeviceTypeInfo type) => type.FixedIrqs.Count > 0
        ? "fixed: " + string.Join(", ", type.FixedIrqs)
        : type.Irq switch
        {
            IrqUse.Required => "required",
            IrqUse.Optional => "optional",
            _ => "none",
        };

    private static string Notes(DeviceTypeInfo type)
    {
        List<string> notes = [type.Summary];
        if (type.InlineOnlyReason is { } reason)
        {
            notes.Add("inline only: " + reason);
        }

        if (type.BusMaster)
        {
            notes.Add("bus master (gets guest RAM)");
        }

        if (type.EndsMachine)
        {
            notes.Add("allowed to end or reset the machine");
        }

        if (type.DiskSectorBytes is { } sector)
        {
            notes.Add($"file keys are raw disk images of whole {sector}-byte sectors");
        }

        return string.Join("; ", notes.Where(n => n.Length > 0));
    }
}
