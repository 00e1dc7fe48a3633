using Iced.Intel;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Cpu.Translation;
using SplitEmu.Tests.Cpu.Infrastructure;
using SplitEmu.Tests.Infrastructure;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Tests.Cpu.Translation;

/// <summary>
/// The translator against the interpreter: the same guest on two machines, one per mode (the translator compiling
/// every block at first sight), must end in the same registers, flags, memory and instruction count, also when it
/// is stopped at arbitrary instruction counts, faults in the middle of a block or rewrites its own code.
/// </summary>
public sealed class TranslatorEquivalenceTests
{
    private const uint Data = ProtectedModeMachine.DataPage;

    private static ProtectedModeMachine NewMachine(CpuExecutionMode mode)
    {
        var machine = new ProtectedModeMachine();
        machine.Cpu.ExecutionMode = mode;
        machine.Cpu.TranslationThreshold = 1;
        return machine;
    }

    /// <summary>Both machines run <paramref name="build"/>'s code in steps of <paramref name="step"/> instructions, compared after each.</summary>
    private static (ProtectedModeMachine Interpreter, ProtectedModeMachine Translator) RunBoth(Action<Assembler> build, long step, int steps)
    {
        var interpreter = NewMachine(CpuExecutionMode.Interpreter);
        var translator = NewMachine(CpuExecutionMode.Translator);
        foreach (ProtectedModeMachine m in new[] { interpreter, translator })
        {
            m.LoadCode(ProtectedModeMachine.KernelCode, build);
            for (int i = 0; i < 1024; i++)
                m.WriteU32(Data + (ulong)i * 4, (uint)(i * 0x9E3779B1));
        }
        for (int s = 0; s < steps; s++)
        {
            CpuRunResult a = interpreter.Run(step);
            CpuRunResult b = translator.Run(step);
            Assert.Equal(a.Reason, b.Reason);
            Assert.Equal(a.Instructions, b.Instructions);
            AssertSameState(interpreter, translator, $"after step {s + 1} of {step} instructions");
            if (a.Reason != CpuStopReason.BudgetExhausted)
                break;
        }
        return (interpreter, translator);
    }

    private static void AssertSameState(ProtectedModeMachine expected, ProtectedModeMachine actual, string when)
    {
        ref CpuState e = ref expected.Cpu.State;
        ref CpuState a = ref actual.Cpu.State;
        Assert.True(e.Rip == a.Rip, $"EIP {a.Rip:x} where the interpreter has {e.Rip:x} {when}");
        for (int r = 0; r < 8; r++)
            Assert.True(e.Gpr[r] == a.Gpr[r], $"GPR {r}: {a.Gpr[r]:x} where the interpreter has {e.Gpr[r]:x} {when}");
        Assert.True(e.Eflags == a.Eflags, $"EFLAGS {a.Eflags:x} where the interpreter has {e.Eflags:x} {when}");
        Assert.Equal(expected.Cpu.InstructionsExecuted, actual.Cpu.InstructionsExecuted);
        Assert.True(expected.Bus.Ram.Slice((int)Data, 4096).SequenceEqual(actual.Bus.Ram.Slice((int)Data, 4096)), $"data page differs {when}");
    }

    [Theory]
    [InlineData(1, 1_000)]
    [InlineData(2, 7)]
    [InlineData(3, 64)]
    [InlineData(4, 4_097)]
    [InlineData(5, 1)]
    public void RandomStraightLineCodeInALoop_MatchesTheInterpreter(int seed, long step)
    {
        (ProtectedModeMachine interpreter, ProtectedModeMachine translator) = RunBoth(a => RandomProgram(a, seed), step, (int)(40_000 / step) + 1);
        Assert.True(translator.Cpu.Translation.InstructionsRunTranslated > translator.Cpu.InstructionsExecuted / 2 || step < 8,
                    $"only {translator.Cpu.Translation.InstructionsRunTranslated} of {translator.Cpu.InstructionsExecuted} instructions ran translated");
        interpreter.Dispose();
        translator.Dispose();
    }

    /// <summary>
    /// A loop over random register, memory, flag-consuming and branching instructions of every operand size: what the
    /// translator emits inline (ALU, CMP/TEST with fused Jcc, MOV, LEA, INC/DEC, shifts) and what it hands to helpers.
    /// </summary>
    private static void RandomProgram(Assembler a, int seed)
    {
        var random = new Random(seed);
        AssemblerRegister32[] regs = [eax, ebx, ecx, edx, esi, edi];
        AssemblerRegister16[] regs16 = [ax, bx, cx, dx, si, di];
        AssemblerRegister8[] regs8 = [al, bl, cl, dl, ah, bh];
        a.mov(ebp, Data);
        a.mov(esp, ProtectedModeMachine.KernelStackTop);
        var top = a.CreateLabel();
        a.Label(ref top);
        for (int i = 0; i < 60; i++)
        {
            AssemblerRegister32 d = regs[random.Next(regs.Length)], s = regs[random.Next(regs.Length)];
            int imm = random.Next(-300, 300) * (random.Next(4) == 0 ? 0x10001 : 1);
            int slot = random.Next(64) * 4;
            switch (random.Next(48))
            {
                case 0: a.add(d, s); break;
                case 1: a.sub(d, imm); break;
                case 2: a.xor(d, s); break;
                case 3: a.and(d, imm | 0x0F0F); break;
                case 4: a.or(regs16[random.Next(6)], regs16[random.Next(6)]); break;
                case 5: a.cmp(d, s); EmitSkip(a, random); break;
                case 6: a.test(regs8[random.Next(6)], regs8[random.Next(6)]); EmitSkip(a, random); break;
                case 7: a.mov(d, __dword_ptr[ebp + slot]); break;
                case 8: a.mov(__dword_ptr[ebp + slot], s); break;
                case 9: a.lea(d, __[s + d * 4 + imm]); break;
                case 10: a.inc(d); break;
                case 11: a.dec(regs8[random.Next(6)]); break;
                case 12: a.rol(d, (byte)random.Next(0, 33)); break;
                case 13: a.shr(regs16[random.Next(6)], (byte)random.Next(1, 17)); break;
                case 14: a.adc(d, s); break;
                case 15: a.add(__dword_ptr[ebp + slot], d); break;
                case 16: a.movzx(d, __byte_ptr[ebp + slot + 1]); break;
                case 17: a.push(s); a.pop(d); break;
                case 18: a.setl(regs8[random.Next(6)]); break;
                case 19: a.cmp(regs16[random.Next(6)], (short)imm); EmitSkip(a, random); break;
                case 20: a.sub(regs8[random.Next(4)], regs8[random.Next(6)]); EmitSkip(a, random); break;
                case 21: a.imul(d, s); break;
                case 22: a.mov(regs8[random.Next(6)], (byte)imm); break;
                case 23: a.mov(d, random.Next(int.MinValue, int.MaxValue)); break; // both signs, so signed and unsigned conditions differ
                case 24: a.cmp(d, random.Next(int.MinValue, int.MaxValue)); EmitSkip(a, random); break;
                case 25: a.pushfd(); a.cli(); a.xor(d, s); a.popfd(); break; // POPF ends a block
                case 26: a.@in(al, 0x80); a.@out(0x80, al); break; // so do port accesses
                case 27: a.movsx(d, __word_ptr[ebp + slot + 2]); break;
                case 28: a.movsx(regs16[random.Next(6)], regs8[random.Next(6)]); break; // AH and BH sources too
                case 29: a.movzx(d, regs16[random.Next(6)]); break;
                case 30: a.sub(d, __dword_ptr[ebp + slot]); EmitSkip(a, random); break;
                case 31: a.xor(regs8[random.Next(6)], __byte_ptr[ebp + slot + 3]); break;
                case 32: a.cmp(d, __dword_ptr[ebp + slot]); EmitSkip(a, random); break;
                case 33: a.cmp(__word_ptr[ebp + slot], regs16[random.Next(6)]); EmitSkip(a, random); break;
                case 34: a.cmp(__dword_ptr[ebp + slot], random.Next(int.MinValue, int.MaxValue)); EmitSkip(a, random); break;
                case 35: a.test(__byte_ptr[ebp + slot + 1], regs8[random.Next(6)]); EmitSkip(a, random); break;
                // Shifts and rotates by constants past the operand size, IMUL's truncating forms and INC/DEC, each with and
                // without a flag reader after it (a following writer makes the translator drop their flags).
                case 36: a.shl(regs8[random.Next(6)], (byte)random.Next(1, 32)); EmitSkip(a, random); break;
                case 37: a.sar(d, (byte)random.Next(1, 32)); if (random.Next(2) == 0) a.add(d, s); else EmitSkip(a, random); break;
                case 38: a.sal(regs16[random.Next(6)], (byte)random.Next(1, 32)); EmitSkip(a, random); break;
                case 39: a.imul(regs16[random.Next(6)], regs16[random.Next(6)]); EmitSkip(a, random); break;
                case 40: a.imul(d, s, imm); if (random.Next(2) == 0) a.sub(s, d); else EmitSkip(a, random); break;
                case 41: a.imul(d, __dword_ptr[ebp + slot]); EmitSkip(a, random); break;
                case 42: a.imul(regs16[random.Next(6)], __word_ptr[ebp + slot + 2], (short)imm); EmitSkip(a, random); break;
                case 43: a.sar(regs8[random.Next(6)], (byte)random.Next(1, 32)); a.dec(d); EmitSkip(a, random); break;
                case 44: a.ror(regs8[random.Next(6)], (byte)random.Next(1, 32)); EmitSkip(a, random); break;
                case 45: a.rol(regs16[random.Next(6)], (byte)random.Next(1, 32)); if (random.Next(2) == 0) a.add(d, s); else EmitSkip(a, random); break;
                case 46: a.mov(__byte_ptr[ebp + slot + 1], regs8[random.Next(6)]); break; // narrow stores, inline when flat
                case 47: a.mov(__word_ptr[ebp + slot + 2], (short)imm); a.mov(regs16[random.Next(6)], __word_ptr[ebp + slot]); break;
                default: a.cmovg(d, s); break;
            }
        }
        a.and(esi, 0xFC); // keep the memory operands' base registers tame for the next pass
        a.and(edi, 0xFC);
        a.jmp(top);
    }

    /// <summary>A conditional forward branch over one instruction, with a random condition.</summary>
    private static void EmitSkip(Assembler a, Random random)
    {
        var over = a.CreateLabel();
        switch (random.Next(8))
        {
            case 0: a.je(over); break;
            case 1: a.jb(over); break;
            case 2: a.jbe(over); break;
            case 3: a.jl(over); break;
            case 4: a.jle(over); break;
            case 5: a.js(over); break;
            case 6: a.jp(over); break;
            default: a.jo(over); break;
        }
        a.inc(ebx);
        a.Label(ref over);
    }

    [Fact]
    public void TightSelfLoop_StopsAtTheExactInstructionCount()
    {
        // dec ecx; jnz top: the block loops inside compiled code, and must still stop exactly at every budget.
        RunBoth(a =>
        {
            a.mov(ecx, 1_000_000);
            var top = a.CreateLabel();
            a.Label(ref top);
            a.add(eax, ecx);
            a.dec(ecx);
            a.jnz(top);
            a.hlt();
        }, 997, 100);
    }

    [Theory]
    [InlineData(0)] // mov ecx, [edx]
    [InlineData(1)] // sub ecx, [edx]: the flags of the add before it must be the ones the handler sees
    [InlineData(2)] // cmp [edx], ecx
    [InlineData(3)] // movsx ecx, word [edx]
    public void FaultInTheMiddleOfABlock_IsDeliveredAtThatInstruction(int form)
    {
        // The third instruction reads past a 4 KiB segment limit: #GP with EIP at it, the first two done, the rest not.
        (ProtectedModeMachine interpreter, ProtectedModeMachine translator) = RunBoth(a =>
        {
            a.mov(eax, 0x30); // the data selector with a 0xFFF limit
            a.mov(ds, ax);
            a.xor(edx, edx);
            var top = a.CreateLabel();
            a.Label(ref top);
            a.add(ebx, 1);
            switch (form)
            {
                case 0: a.mov(ecx, __dword_ptr[edx]); break;
                case 1: a.sub(ecx, __dword_ptr[edx]); break;
                case 2: a.cmp(__dword_ptr[edx], ecx); break;
                default: a.movsx(ecx, __word_ptr[edx]); break;
            }
            a.add(edx, 0x400);
            a.add(esi, 1);
            a.jmp(top);
        }, 1_000, 3);
        Assert.Equal(ProtectedModeMachine.AfterHandler(ExceptionVector.GeneralProtection), translator.Eip);
        Assert.Equal(5u, (uint)translator.Cpu.State.Gpr[Gpr.Rbx]);
        Assert.Equal(4u, (uint)translator.Cpu.State.Gpr[Gpr.Rsi]);
        Assert.True(translator.Cpu.Translation.BlocksTranslated > 0);
        interpreter.Dispose();
        translator.Dispose();
    }

    [Fact]
    public void CodeThatRewritesItsOwnBlock_RunsTheNewBytes()
    {
        // Each pass patches the immediate of the ADD that follows the store in the same block. The loop is
        // assembled twice: once to learn where the ADD lands, then with that address (MOV r32, imm32 keeps its size).
        var probe = new Assembler(32);
        Label add = EmitPatchedLoop(probe, 0);
        ulong addImmediate = probe.Assemble(new StreamCodeWriter(new MemoryStream()), ProtectedModeMachine.KernelCode,
                                            BlockEncoderOptions.ReturnNewInstructionOffsets).GetLabelRIP(add) + 2; // 83 C3 ib
        (ProtectedModeMachine interpreter, ProtectedModeMachine translator) = RunBoth(a => EmitPatchedLoop(a, (uint)addImmediate), 10_000, 1);
        Assert.Equal(Enumerable.Range(1, 50).Sum(), (int)translator.Cpu.State.Gpr[Gpr.Rbx]);
        Assert.True(translator.Cpu.Translation.BlocksInvalidated > 0);
        interpreter.Dispose();
        translator.Dispose();
    }

    /// <summary>Emits the self-patching loop; returns the label of its "add ebx, imm8".</summary>
    private static Label EmitPatchedLoop(Assembler a, uint immediateAddress)
    {
        var top = a.CreateLabel();
        var patched = a.CreateLabel();
        a.mov(ecx, 50);
        a.mov(ebp, immediateAddress);
        a.Label(ref top);
        a.inc(edi);
        a.mov(eax, edi);
        a.mov(__byte_ptr[ebp], al);
        a.Label(ref patched);
        a.add(ebx, 0);
        a.dec(ecx);
        a.jnz(top);
        a.hlt();
        return patched;
    }

    [Fact]
    public void CodeWrittenByDma_IsRetranslated()
    {
        using ProtectedModeMachine machine = NewMachine(CpuExecutionMode.Translator);
        machine.LoadCode(ProtectedModeMachine.KernelCode, a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.add(ebx, 1); // 83 C3 01
            a.jmp(top);
        });
        machine.Run(1_000);
        Assert.Equal(500UL, machine.Cpu.State.Gpr[Gpr.Rbx]);

        // A device writes the immediate 2 over the loop's 1 and reports it, as DMA does.
        machine.Bus.Ram[(int)ProtectedModeMachine.KernelCode + 2] = 2;
        machine.Cpu.InvalidateCode(ProtectedModeMachine.KernelCode + 2, 1);
        machine.Run(1_000);
        Assert.Equal(1_500UL, machine.Cpu.State.Gpr[Gpr.Rbx]);
    }

    [Fact]
    public void BlocksCompiledInTheBackground_AreInstalled_AndGiveTheSameResult()
    {
        // As machines run it: the vCPU interprets while the worker compiles, then uses the block.
        using ProtectedModeMachine interpreter = NewMachine(CpuExecutionMode.Interpreter);
        using ProtectedModeMachine translator = NewMachine(CpuExecutionMode.Translator);
        translator.Cpu.CompileInBackground = true;
        foreach (ProtectedModeMachine m in new[] { interpreter, translator })
            m.LoadCode(ProtectedModeMachine.KernelCode, a => RandomProgram(a, seed: 6));

        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (translator.Cpu.Translation.InstructionsRunTranslated == 0 && deadline.Elapsed < TestDeadlines.Seconds(30))
        {
            interpreter.Run(1_000);
            translator.Run(1_000);
            Thread.Sleep(1);
        }
        interpreter.Run(50_000);
        translator.Run(50_000);

        Assert.True(translator.Cpu.Translation.InstructionsRunTranslated > 0, $"no block was installed: {translator.Cpu.Translation}");
        AssertSameState(interpreter, translator, "after the background-compiled blocks ran");
    }

    [Fact]
    public void InterruptHeldByTheStiShadow_IsTakenAfterExactlyOneInstruction()
    {
        // sti; nop; cli: the interrupt is due after the NOP. Run as a block, [nop; cli; ...] would shut it out.
        var machines = new[] { NewMachine(CpuExecutionMode.Interpreter), NewMachine(CpuExecutionMode.Translator) };
        var pics = new[] { new FakeInterruptController(), new FakeInterruptController() };
        for (int i = 0; i < 2; i++)
        {
            machines[i].Cpu.InterruptController = pics[i];
            machines[i].LoadCode(ProtectedModeMachine.KernelCode, a =>
            {
                var top = a.CreateLabel();
                a.Label(ref top);
                a.sti();
                a.nop();
                a.cli();
                a.inc(ebx);
                a.jmp(top);
            });
            machines[i].Run(20_003); // hot and translated, stopped after the CLI (IF clear)
            pics[i].Raise(0x40);
            machines[i].Cpu.NotifyInterruptPending();
            Assert.Equal(CpuStopReason.Halted, machines[i].Run(1_000).Reason);
        }
        Assert.Equal(ProtectedModeMachine.AfterHandler(0x40), machines[1].Eip);
        Assert.Equal(machines[0].Stack(0), machines[1].Stack(0)); // the return EIP: the CLI
        AssertSameState(machines[0], machines[1], "after the interrupt");
        Assert.True(machines[1].Cpu.Translation.InstructionsRunTranslated > 0);
        foreach (ProtectedModeMachine m in machines)
            m.Dispose();
    }

    [Fact]
    public void TrapFlagSetByPopf_TrapsAfterTheNextInstruction()
    {
        // POPF ends its block; with TF now set the next instruction must run alone and trap (#DB), not a chained block.
        (ProtectedModeMachine interpreter, ProtectedModeMachine translator) = RunBoth(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 100);
            a.Label(ref top);
            a.dec(ecx);
            a.jz(top); // never taken: a warm-up pass through the same blocks
            a.pushfd();
            a.or(__dword_ptr[esp], 0x100);
            a.popfd();
            a.mov(ebx, 1);
            a.add(esi, 1);
            a.jmp(top);
        }, 1_000, 1);
        Assert.Equal(ProtectedModeMachine.AfterHandler(ExceptionVector.Debug), translator.Eip);
        Assert.Equal(0u, (uint)translator.Cpu.State.Gpr[Gpr.Rsi]);
        interpreter.Dispose();
        translator.Dispose();
    }

    [Fact]
    public void InterruptDuringATightLoop_IsTakenWithinTheBlockBound()
    {
        using ProtectedModeMachine machine = NewMachine(CpuExecutionMode.Translator);
        var pic = new FakeInterruptController();
        machine.Cpu.InterruptController = pic;
        machine.LoadCode(ProtectedModeMachine.KernelCode, a =>
        {
            a.sti();
            var top = a.CreateLabel();
            a.Label(ref top);
            a.inc(eax);
            a.jmp(top);
        });
        machine.Run(10_000); // the loop is translated and running
        pic.Raise(0x40);
        machine.Cpu.NotifyInterruptPending();
        CpuRunResult result = machine.Run(1_000);
        Assert.Equal(CpuStopReason.Halted, result.Reason);
        Assert.Equal(ProtectedModeMachine.AfterHandler(0x40), machine.Eip);
        Assert.True(machine.Cpu.Translation.InstructionsRunTranslated > 5_000);
    }
}
