using System.Text.Json;

namespace SplitEmu.Tests.Cpu.Ssts;

/// <summary>The 16-bit register file of an SSTS test (all registers in "initial", only changed ones in "final").</summary>
public sealed class SstsRegisters
{
    public static readonly string[] Names = ["ax", "bx", "cx", "dx", "cs", "ss", "ds", "es", "sp", "bp", "si", "di", "ip", "flags"];

    /// <summary>Values by position in <see cref="Names"/>; null where the test does not give the register.</summary>
    public ushort?[] Values { get; } = new ushort?[Names.Length];

    public static SstsRegisters Parse(JsonElement element)
    {
        var regs = new SstsRegisters();
        for (int i = 0; i < Names.Length; i++)
        {
            if (element.TryGetProperty(Names[i], out JsonElement v))
                regs.Values[i] = (ushort)v.GetInt32();
        }
        return regs;
    }

    public ushort this[string name] => Values[Array.IndexOf(Names, name)] ?? throw new KeyNotFoundException(name);
}

/// <summary>One hardware-captured test: state before, bytes of the instruction, state after.</summary>
public sealed class SstsTestCase
{
    public required string Name { get; init; }
    public required string Hash { get; init; }
    /// <summary>The instruction's bytes (the suite appends a HLT).</summary>
    public required byte[] Bytes { get; init; }
    public required SstsRegisters Initial { get; init; }
    public required (uint Address, byte Value)[] InitialRam { get; init; }
    public required SstsRegisters Final { get; init; }
    public required (uint Address, byte Value)[] FinalRam { get; init; }
    /// <summary>Exception vector the instruction raised, or null.</summary>
    public int? ExceptionNumber { get; init; }
    /// <summary>Where the exception pushed FLAGS (its undefined bits are masked there too).</summary>
    public uint? FlagAddress { get; init; }

    public static SstsTestCase Parse(string line)
    {
        using JsonDocument doc = JsonDocument.Parse(line);
        JsonElement root = doc.RootElement;
        JsonElement initial = root.GetProperty("initial");
        JsonElement final = root.GetProperty("final");
        int? exception = null;
        uint? flagAddress = null;
        if (root.TryGetProperty("exception", out JsonElement ex))
        {
            exception = ex.GetProperty("number").GetInt32();
            flagAddress = ex.GetProperty("flag_address").GetUInt32();
        }
        return new SstsTestCase
        {
            Name = root.GetProperty("name").GetString() ?? "",
            Hash = root.GetProperty("hash").GetString() ?? "",
            Bytes = root.GetProperty("bytes").EnumerateArray().Select(b => (byte)b.GetInt32()).ToArray(),
            Initial = SstsRegisters.Parse(initial.GetProperty("regs")),
            InitialRam = ParseRam(initial.GetProperty("ram")),
            Final = SstsRegisters.Parse(final.GetProperty("regs")),
            FinalRam = ParseRam(final.GetProperty("ram")),
            ExceptionNumber = exception,
            FlagAddress = flagAddress,
        };
    }

    private static (uint, byte)[] ParseRam(JsonElement ram)
    {
        var result = new (uint, byte)[ram.GetArrayLength()];
        int i = 0;
        foreach (JsonElement pair in ram.EnumerateArray())
            result[i++] = (pair[0].GetUInt32(), (byte)pair[1].GetInt32());
        return result;
    }
}
