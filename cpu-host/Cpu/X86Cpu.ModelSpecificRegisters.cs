namespace SplitEmu.CpuHost.Cpu;

// RDMSR/WRMSR, RDTSC and RDPMC: the model-specific registers a Pentium II class part has and a 686 kernel
// touches. Any other MSR raises #GP(0), as on a part without it (kernels probe those with the *_safe forms).
public sealed partial class X86Cpu
{
    private static class Msr
    {
        public const uint TimeStampCounter = 0x10;
        /// <summary>IA32_PLATFORM_ID: read by Linux's microcode loader on family 6 model 5 and later.</summary>
        public const uint PlatformId = 0x17;
        /// <summary>IA32_BIOS_SIGN_ID: the microcode revision; Linux writes 0, runs CPUID, reads it back, unguarded.</summary>
        public const uint BiosSignId = 0x8B;
        /// <summary>PerfCtr0/1: the P6's two performance counters (RDPMC 0 and 1).</summary>
        public const uint PerfCounter0 = 0xC1, PerfCounter1 = 0xC2;
        /// <summary>PerfEvtSel0/1: what the counters count.</summary>
        public const uint EventSelect0 = 0x186, EventSelect1 = 0x187;
        public const uint SysenterCs = 0x174;
        public const uint SysenterEsp = 0x175;
        public const uint SysenterEip = 0x176;
        public const uint ApicBase = 0x1B;
    }

    private ulong CurrentTsc => TimeStampSource is { } source ? source() + _state.TscOffset : _state.Tsc + (ulong)_runExecuted;

    /// <summary>WRMSR to the TSC: it reads <paramref name="value"/> now and counts on from there, on either source.</summary>
    private void WriteTsc(ulong value)
    {
        if (TimeStampSource is { } source)
        {
            _state.TscOffset = value - source(); // wraps as the counter does
        }
        else
        {
            _state.Tsc = value - (ulong)_runExecuted;
        }
    }

    private void ExecuteRdtsc()
    {
        if ((_state.Cr4 & ControlRegisters.Cr4Tsd) != 0 && !RequireCpl0())
            return;
        ulong tsc = CurrentTsc;
        _state.Gpr[Gpr.Rax] = (uint)tsc;
        _state.Gpr[Gpr.Rdx] = tsc >> 32;
    }

    /// <summary>
    /// RDPMC: the P6's two counters exist but never count (no event is modelled), so they read 0. Outside ring 0
    /// without CR4.PCE, and for a counter other than 0 or 1, the read is refused with #GP(0).
    /// </summary>
    private void ExecuteRdpmc()
    {
        bool permitted = !_state.ProtectedMode || (_state.Cpl == 0 && !_state.Virtual8086) || (_state.Cr4 & ControlRegisters.Cr4Pce) != 0;
        if (!permitted || (uint)_state.Gpr[Gpr.Rcx] > 1)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        _state.Gpr[Gpr.Rax] = 0;
        _state.Gpr[Gpr.Rdx] = 0;
    }

    private void ExecuteRdmsr()
    {
        if (!RequireCpl0())
            return;
        ulong value;
        switch ((uint)_state.Gpr[Gpr.Rcx])
        {
            case Msr.TimeStampCounter: value = CurrentTsc; break;
            case Msr.PlatformId: value = 0; break;
            case Msr.BiosSignId: value = 0; break; // no microcode update loaded
            case Msr.PerfCounter0 or Msr.PerfCounter1 or Msr.EventSelect0 or Msr.EventSelect1: value = 0; break; // see ExecuteRdpmc
            case Msr.SysenterCs: value = _state.SysenterCs; break;
            case Msr.SysenterEsp: value = _state.SysenterEsp; break;
            case Msr.SysenterEip: value = _state.SysenterEip; break;
            case Msr.ApicBase when LocalApic is { } apic: value = apic.BaseMsr; break;
            default: RaiseFault(ExceptionVector.GeneralProtection, 0); return;
        }
        _state.Gpr[Gpr.Rax] = (uint)value;
        _state.Gpr[Gpr.Rdx] = value >> 32;
    }

    private void ExecuteWrmsr()
    {
        if (!RequireCpl0())
            return;
        ulong value = ((ulong)(uint)_state.Gpr[Gpr.Rdx] << 32) | (uint)_state.Gpr[Gpr.Rax];
        switch ((uint)_state.Gpr[Gpr.Rcx])
        {
            case Msr.TimeStampCounter: WriteTsc(value); break;
            case Msr.BiosSignId: break; // writing starts a revision query; the read still says 0
            // The counters exist but nothing is modelled to count, so they hold no value (QEMU's TCG does the same):
            // a kernel's write-and-read-back probe sees that and leaves the PMU alone.
            case Msr.PerfCounter0 or Msr.PerfCounter1 or Msr.EventSelect0 or Msr.EventSelect1: break;
            case Msr.SysenterCs: _state.SysenterCs = (uint)value & 0xFFFF; break;
            case Msr.SysenterEsp: _state.SysenterEsp = (uint)value; break;
            case Msr.SysenterEip: _state.SysenterEip = (uint)value; break;
            case Msr.ApicBase when LocalApic is { } apic:
                if (!apic.TryWriteBaseMsr(value))
                    RaiseFault(ExceptionVector.GeneralProtection, 0);
                break;
            default: RaiseFault(ExceptionVector.GeneralProtection, 0); break; // includes the read-only platform id
        }
    }
}
