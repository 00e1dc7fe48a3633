using Iced.Intel;

namespace SplitEmu.Tests.Cpu.Ssts;

/// <summary>
/// What the 80286 suite tests that an emulated 386/486 must not be held to, each with its reason.
/// Whole opcodes are excluded by their metadata status or by the list below; single tests by hash.
/// </summary>
public static class SstsExclusions
{
    /// <summary>The 286 limits an instruction, prefixes included, to 10 bytes.</summary>
    private const int Max286InstructionLength = 10;

    /// <summary>Metadata statuses excluded as a class.</summary>
    public static readonly IReadOnlyDictionary<string, string> ByStatus = new Dictionary<string, string>
    {
        ["undefined"] = "undefined opcode on the 286; the 386 defines some (64-67 prefixes) and raises #UD for others",
        ["undocumented"] = "undocumented opcode (SAL alias /6, SALC): behaviour not architectural",
        ["fpu"] = "x87 escape: the suite's 286 ran without a 287 coprocessor; SplitEmu has an x87, so the results cannot compare",
        ["prefix"] = "a prefix, not an instruction",
        ["extension"] = "0F extension table: 286 system instructions, no test file in this subset",
    };

    /// <summary>Opcodes where the 286 and the 386 differ architecturally.</summary>
    public static readonly IReadOnlyDictionary<string, string> ByOpcode = new Dictionary<string, string>
    {
    };

    /// <summary>The exclusion reason for one test of a counted opcode, or null if it counts.</summary>
    public static string? ReasonFor(SstsTestCase test)
    {
        var decoder = Decoder.Create(16, test.Bytes);
        decoder.Decode(out Instruction instruction);
        if (instruction.IsInvalid && test.Bytes.AsSpan().Contains((byte)0xF0))
        {
            // Iced reports exactly the LOCK uses the 386 rejects as invalid.
            return "LOCK on a non-lockable instruction or register destination: #UD on the 386, ignored by the 286";
        }
        if (instruction.Length > Max286InstructionLength)
            return "longer than 10 bytes (redundant prefixes): the 286 raises interrupt 13, the 386 accepts up to 15 bytes";
        if (UsesFsOrGs(in instruction))
            return "FS/GS (register operand or 64h/65h prefix): absent on the 286, which raises #UD";
        if (instruction.IsStringInstruction && test.ExceptionNumber == 13)
            return "segment overrun in a string instruction: the 286 advances SI/DI before interrupt 13, the 386 leaves them";
        if (instruction.Mnemonic == Mnemonic.Pop && instruction.Op0Kind == OpKind.Memory && test.ExceptionNumber == 13)
            return "segment overrun in POP to memory: the 286 has moved SP before interrupt 13, the 386 restores it (restartable)";
        return null;
    }

    private static bool UsesFsOrGs(in Instruction instruction)
    {
        if (instruction.SegmentPrefix is Register.FS or Register.GS)
            return true;
        for (int op = 0; op < instruction.OpCount; op++)
        {
            if (instruction.GetOpKind(op) == OpKind.Register && instruction.GetOpRegister(op) is Register.FS or Register.GS)
                return true;
        }
        return false;
    }

    /// <summary>The exclusion reason for an opcode, or null if its tests count.</summary>
    public static string? ReasonFor(string opcode, string status)
    {
        if (ByOpcode.TryGetValue(opcode, out string? reason))
            return reason;
        return ByStatus.TryGetValue(status, out reason) ? $"status {status}: {reason}" : null;
    }
}
