using System.Text;
using Decoder = Iced.Intel.Decoder;
using Iced.Intel;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;

namespace SplitEmu.Tests.Cpu.Differential;

/// <summary>What one differential run did.</summary>
internal sealed class DifferentialReport
{
    public long Instructions;
    public long Exceptions;
    /// <summary>Instructions whose result the SDM leaves undefined for these operands; only faults are compared.</summary>
    public long UndefinedResults;
    /// <summary>Instructions skipped by an entry of <see cref="DifferentialExclusions"/>, by entry name.</summary>
    public readonly Dictionary<string, long> Excluded = new();
    /// <summary>All mismatches; only the first few get a reproducer in <see cref="Mismatches"/>.</summary>
    public long MismatchCount;
    public readonly List<string> Mismatches = new();
    /// <summary>Instructions run, by mnemonic.</summary>
    public readonly long[] ByMnemonic = new long[Enum.GetValues<Mnemonic>().Length];
}

/// <summary>
/// Runs random instructions (<see cref="InstructionGenerator"/>) one at a time on SplitEmu and on Unicorn from the
/// same state and compares registers, EFLAGS (without the flags the instruction leaves undefined) and memory.
/// </summary>
internal sealed class DifferentialRunner
{
    /// <summary>EFLAGS bits compared: the status flags, TF, IF, DF, IOPL, NT, AC, VIF, VIP, ID, and the fixed bit 1.</summary>
    public const uint ComparedEflags = 0x003C_7FD7;
    /// <summary>Registers and flags are re-randomized this often so values do not drift towards zero.</summary>
    private const int RandomizeRegistersEvery = 64;
    private const int RandomizeMemoryEvery = 4096;
    private const int MaxReportedMismatches = 30;
    private const int UcErrInsnInvalid = 10;
    /// <summary>
    /// Unicorn counts every iteration of a REP instruction, so a REP runs with this limit (and stops at the next
    /// instruction's address). Never 0: switching between counted and uncounted runs makes Unicorn re-install its
    /// counting hook and flush all translations, about 20 ms each time.
    /// </summary>
    private const int RepIterationLimit = 1 << 20;

    private readonly DifferentialMachine _machine;
    private readonly Random _rng;
    private readonly InstructionGenerator _generator;
    private readonly Decoder _decoder;
    private readonly SpanCodeReader _codeReader = new();
    private readonly byte[] _bytes = new byte[InstructionGenerator.MaxLength + 8];
    private readonly uint[] _before = new uint[8];
    private readonly byte[][] _memoryBefore;
    private readonly int _seed;
    /// <summary>SPLITEMU_DIFF_TRACE=file: every instruction is written there before Unicorn runs it (for crashes inside the library).</summary>
    private readonly StreamWriter? _trace;

    public DifferentialRunner(DifferentialMachine machine, int seed)
    {
        _machine = machine;
        _seed = seed;
        _rng = new Random(seed);
        _generator = new InstructionGenerator(_rng);
        _decoder = Decoder.Create(32, _codeReader);
        string? tracePath = Environment.GetEnvironmentVariable("SPLITEMU_DIFF_TRACE");
        _trace = string.IsNullOrEmpty(tracePath) ? null : new StreamWriter(tracePath, append: true);
        _memoryBefore = machine.ComparedRegions.Select(r => new byte[r.Length]).ToArray();
    }

    /// <summary>Called after each Unicorn step; the harness's own test uses it to plant a difference.</summary>
    public Action<Unicorn>? AfterUnicornStep { get; set; }

    public DifferentialReport Run(long count)
    {
        var report = new DifferentialReport();
        _machine.RandomizeMemory(_rng);
        for (long n = 0; n < count; n++)
        {
            if (n % RandomizeRegistersEvery == 0)
                RandomizeRegisters();
            if (n % RandomizeMemoryEvery == 0 && n != 0)
                _machine.RandomizeMemory(_rng);
            StepOne(n, report);
        }
        return report;
    }

    private void RandomizeRegisters()
    {
        for (int i = 0; i < 8; i++)
            _machine.Gpr[i] = _generator.RandomValue();
        // Status flags, DF, IF, IOPL, NT, AC at random; never TF (a trap after every instruction).
        uint random = (uint)_rng.Next();
        _machine.Eflags = (random & 0x0004_7ED5 & ~(1u << 8)) | EflagsBits.Reserved1;
    }

    private void StepOne(long n, DifferentialReport report)
    {
        Instruction instruction;
        int length;
        while (true)
        {
            length = _generator.Next(_machine, _bytes, DifferentialMachine.SlotAddress((uint)n));
            _codeReader.Reset(_bytes.AsSpan(0, length));
            _decoder.IP = 0;
            _decoder.Decode(out instruction);
            if (!instruction.IsInvalid && instruction.Length == length)
                break;
        }

        uint eip = _machine.LoadInstruction((uint)n, _bytes.AsSpan(0, length));
        instruction.IP = eip;
        _machine.LoadRegisters(eip);
        _machine.Gpr.CopyTo(_before, 0);
        uint eflagsBefore = _machine.Eflags;
        int region = 0;
        foreach ((uint start, uint size) in _machine.ComparedRegions)
            _machine.SplitEmuRam.Slice((int)start, (int)size).CopyTo(_memoryBefore[region++]);

        report.Instructions++;
        report.ByMnemonic[(int)instruction.Mnemonic]++;

        // SplitEmu: one instruction; an exception ends at its handler's hlt stub.
        X86Cpu cpu = _machine.SplitEmu;
        cpu.Run(1);
        ref CpuState s = ref cpu.State;
        int splitVector = FaultVector(ref s, eip);

        if (_trace is not null)
        {
            _trace.WriteLine($"{n} {Convert.ToHexString(_bytes, 0, length)} {Disassemble(instruction)}");
            _trace.Flush();
        }
        bool rep = instruction.HasRepPrefix || instruction.HasRepePrefix || instruction.HasRepnePrefix;
        int error = _machine.Unicorn.Step(eip, eip + (uint)length, rep ? RepIterationLimit : 1);
        AfterUnicornStep?.Invoke(_machine.Unicorn);
        int unicornVector = _machine.Unicorn.LastException;
        if (unicornVector < 0 && error == UcErrInsnInvalid)
            unicornVector = ExceptionVector.InvalidOpcode;

        DifferentialExclusions.Exclusion? exclusion = DifferentialExclusions.Find(instruction, _before, eflagsBefore);
        if (exclusion is not null)
        {
            report.Excluded[exclusion.Name] = report.Excluded.GetValueOrDefault(exclusion.Name) + 1;
            if (exclusion.IgnoreEverything)
            {
                if (splitVector >= 0 || unicornVector >= 0 || error != 0)
                {
                    RestoreBefore(eflagsBefore);
                    _machine.Unicorn.RestoreContext();
                }
                else
                {
                    Resynchronize();
                }
                return;
            }
        }

        var differences = new StringBuilder();
        if (splitVector >= 0 || unicornVector >= 0 || error != 0)
        {
            report.Exceptions++;
            if (splitVector != unicornVector)
                differences.Append($"  exception: splitemu {VectorText(splitVector)}, unicorn {VectorText(unicornVector)}"
                                   + (error != 0 && unicornVector < 0 ? $" (uc_emu_start: {Unicorn.ErrorText(error)})" : "") + "\n");
            RestoreBefore(eflagsBefore);
            _machine.Unicorn.RestoreContext();
        }
        else
        {
            CompareResults(instruction, exclusion?.IgnoredFlags ?? 0, exclusion?.IgnoredRegisters ?? 0, differences, report);
        }

        if (differences.Length > 0)
        {
            report.MismatchCount++;
            if (report.Mismatches.Count < MaxReportedMismatches)
                report.Mismatches.Add(Reproducer(n, instruction, length, eflagsBefore, differences.ToString()));
        }
    }

    private void CompareResults(in Instruction instruction, uint ignoredFlags, int ignoredRegisters, StringBuilder differences, DifferentialReport report)
    {
        ref CpuState s = ref _machine.SplitEmu.State;
        Unicorn uc = _machine.Unicorn;
        UndefinedBehaviour.Mask mask = UndefinedBehaviour.For(instruction, _before);
        if (mask.ResultUndefined)
        {
            report.UndefinedResults++;
            Resynchronize();
            return;
        }

        for (int i = 0; i < 8; i++)
        {
            uint mine = (uint)s.Gpr[i];
            uint theirs = uc.ReadRegister(Unicorn.GprIds[i]);
            if (mine != theirs && (ignoredRegisters & (1 << i)) == 0)
                differences.Append($"  {GprNames[i]}: splitemu {mine:X8}, unicorn {theirs:X8}\n");
        }
        uint eipMine = (uint)s.Rip, eipTheirs = uc.ReadRegister(Unicorn.RegEip);
        if (eipMine != eipTheirs)
            differences.Append($"  EIP: splitemu {eipMine:X8}, unicorn {eipTheirs:X8}\n");
        uint compared = ComparedEflags & ~mask.Flags & ~ignoredFlags;
        uint flagsMine = s.Eflags, flagsTheirs = uc.ReadRegister(Unicorn.RegEflags);
        if (((flagsMine ^ flagsTheirs) & compared) != 0)
            differences.Append($"  EFLAGS: splitemu {flagsMine:X8}, unicorn {flagsTheirs:X8} (compared {compared:X8}: "
                               + $"{FlagNames((flagsMine ^ flagsTheirs) & compared)} differ)\n");

        int region = 0;
        foreach ((uint start, uint size) in _machine.ComparedRegions)
        {
            ReadOnlySpan<byte> mine = _machine.SplitEmuRam.Slice((int)start, (int)size);
            ReadOnlySpan<byte> theirs = _machine.UnicornRam.Slice((int)start, (int)size);
            if (!mine.SequenceEqual(theirs))
            {
                // Page tables: the accessed bit (bit 5 of each entry) may be set speculatively (SDM Vol. 3 4.8),
                // and Unicorn does so when it translates a branch target it never executes. Dirty bits are compared.
                bool pageTable = _machine.Paging && start == DifferentialMachine.PageTable;
                int shown = 0;
                for (int i = 0; i < mine.Length && shown < 16; i++)
                {
                    int ignored = pageTable && i % 4 == 0 ? 0x20 : 0;
                    if (((mine[i] ^ theirs[i]) & ~ignored) != 0)
                    {
                        differences.Append($"  memory {start + i:X8}: before {_memoryBefore[region][i]:X2}, splitemu {mine[i]:X2}, unicorn {theirs[i]:X2}\n");
                        shown++;
                    }
                }
            }
            region++;
        }
        Resynchronize();
    }

    /// <summary>Takes SplitEmu's registers as the next starting state and copies its memory into Unicorn's.</summary>
    private void Resynchronize()
    {
        ref CpuState s = ref _machine.SplitEmu.State;
        for (int i = 0; i < 8; i++)
            _machine.Gpr[i] = (uint)s.Gpr[i];
        _machine.Eflags = s.Eflags;
        _machine.ResynchronizeMemory();
    }

    /// <summary>After an exception: both go back to the state before the instruction (SplitEmu pushed a frame).</summary>
    private void RestoreBefore(uint eflagsBefore)
    {
        _before.CopyTo(_machine.Gpr, 0);
        _machine.Eflags = eflagsBefore;
        int region = 0;
        foreach ((uint start, uint size) in _machine.ComparedRegions)
        {
            if (_machine.Paging && start == DifferentialMachine.PageTable)
            {
                // Not rolled back: both TLBs may hold entries whose accessed/dirty bits are already set in memory.
                _machine.SplitEmuRam.Slice((int)start, (int)size).CopyTo(_machine.UnicornRam.Slice((int)start, (int)size));
            }
            else
            {
                _memoryBefore[region].CopyTo(_machine.SplitEmuRam.Slice((int)start, (int)size));
                _memoryBefore[region].CopyTo(_machine.UnicornRam.Slice((int)start, (int)size));
            }
            region++;
        }
        ref CpuState s = ref _machine.SplitEmu.State;
        s.Gpr[Gpr.Rsp] = _before[Gpr.Rsp];
    }

    /// <summary>
    /// The exception SplitEmu delivered, or -1: EIP at a handler stub with a ring 0 frame (faulting EIP, CS) just
    /// pushed, which a branch that happens to land on a stub does not leave.
    /// </summary>
    private int FaultVector(ref CpuState s, uint instructionEip)
    {
        uint offset = (uint)s.Rip - ProtectedModeMachine.HandlerBase;
        if (offset >= 256 * ProtectedModeMachine.HandlerStride || offset % ProtectedModeMachine.HandlerStride != 0)
            return -1;
        uint esp = (uint)s.Gpr[Gpr.Rsp];
        if (esp != _before[Gpr.Rsp] - 12 || BitConverter.ToUInt32(_machine.SplitEmuRam.Slice((int)esp, 4)) != instructionEip)
            return -1;
        return (int)(offset / ProtectedModeMachine.HandlerStride);
    }

    private static string VectorText(int vector) => vector < 0 ? "none" : $"vector {vector}";

    private static readonly string[] GprNames = ["EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI"];

    private static string FlagNames(uint bits)
    {
        var names = new List<string>();
        (uint Bit, string Name)[] all =
        [
            (EflagsBits.CF, "CF"), (EflagsBits.PF, "PF"), (EflagsBits.AF, "AF"), (EflagsBits.ZF, "ZF"), (EflagsBits.SF, "SF"),
            (EflagsBits.TF, "TF"), (EflagsBits.IF, "IF"), (EflagsBits.DF, "DF"), (EflagsBits.OF, "OF"), (EflagsBits.IoplMask, "IOPL"),
            (EflagsBits.NT, "NT"), (EflagsBits.AC, "AC"), (EflagsBits.VIF, "VIF"), (EflagsBits.VIP, "VIP"), (EflagsBits.ID, "ID"),
        ];
        foreach ((uint bit, string name) in all)
            if ((bits & bit) != 0)
                names.Add(name);
        return string.Join(" ", names);
    }

    /// <summary>Everything needed to replay the instruction in a unit test.</summary>
    private string Reproducer(long n, in Instruction instruction, int length, uint eflagsBefore, string differences)
    {
        var text = new StringBuilder();
        text.Append($"Mismatch at instruction {n} of seed {_seed} (paging {(_machine.Paging ? "on" : "off")}):\n");
        text.Append($"  bytes: {Convert.ToHexString(_bytes, 0, length)}   {Disassemble(instruction)}\n");
        text.Append("  before:");
        for (int i = 0; i < 8; i++)
            text.Append($" {GprNames[i]}={_before[i]:X8}");
        text.Append($" EFLAGS={eflagsBefore:X8} EIP={instruction.IP32:X8}\n");
        var info = new InstructionInfoFactory().GetInfo(instruction);
        foreach (UsedMemory used in info.GetUsedMemory())
        {
            if (!used.TryGetVirtualAddress(0, out ulong address, RegisterValue))
                continue;
            int region = 0;
            foreach ((uint start, uint size) in _machine.ComparedRegions)
            {
                if (address >= start && address < start + size)
                {
                    int offset = (int)(address - start);
                    int count = Math.Min(8, (int)size - offset);
                    text.Append($"  memory before at {address:X8} ({used.MemorySize}): {Convert.ToHexString(_memoryBefore[region], offset, count)}\n");
                }
                region++;
            }
        }
        text.Append(differences);
        return text.ToString();
    }

    private bool RegisterValue(Register register, int elementIndex, int elementSize, out ulong value)
    {
        _ = elementIndex;
        _ = elementSize;
        value = 0;
        if (register.IsSegmentRegister())
            return true;
        Register full = register.GetFullRegister32();
        if (full < Register.EAX || full > Register.EDI)
            return false;
        uint v = _before[full - Register.EAX];
        value = register.GetSize() switch
        {
            1 when register >= Register.AH && register <= Register.BH => (v >> 8) & 0xFF,
            1 => v & 0xFF,
            2 => v & 0xFFFF,
            _ => v,
        };
        return true;
    }

    private static string Disassemble(in Instruction instruction)
    {
        var formatter = new NasmFormatter();
        var output = new StringOutput();
        formatter.Format(instruction, output);
        return output.ToStringAndReset();
    }

    /// <summary>Iced code reader over the generator's buffer, reused for every instruction.</summary>
    private sealed class SpanCodeReader : CodeReader
    {
        private byte[] _data = [];
        private int _position;
        private int _length;

        public void Reset(ReadOnlySpan<byte> bytes)
        {
            if (_data.Length < bytes.Length)
                _data = new byte[InstructionGenerator.MaxLength + 8];
            bytes.CopyTo(_data);
            _length = bytes.Length;
            _position = 0;
        }

        public override int ReadByte() => _position < _length ? _data[_position++] : -1;
    }
}
