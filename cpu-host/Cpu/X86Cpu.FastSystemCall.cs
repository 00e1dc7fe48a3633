namespace SplitEmu.CpuHost.Cpu;

// SYSENTER/SYSEXIT (SDM vol. 2B): fast ring 3 <-> ring 0 transitions into flat segments named by the
// IA32_SYSENTER_CS MSR. No descriptor is read: the hidden parts are loaded with fixed flat values.
public sealed partial class X86Cpu
{
    private const ushort FlatCodeAttributes = DescriptorAttributes.Present | DescriptorAttributes.CodeOrData | DescriptorAttributes.Code
        | DescriptorAttributes.WritableOrReadable | DescriptorAttributes.Accessed | DescriptorAttributes.DefaultBig | DescriptorAttributes.Granularity;

    private const ushort FlatDataAttributes = DescriptorAttributes.Present | DescriptorAttributes.CodeOrData
        | DescriptorAttributes.WritableOrReadable | DescriptorAttributes.Accessed | DescriptorAttributes.DefaultBig | DescriptorAttributes.Granularity;

    /// <summary>SYSENTER: ring 0 at IA32_SYSENTER_EIP with IA32_SYSENTER_ESP; #GP(0) in real mode or with a null SYSENTER_CS.</summary>
    private void ExecuteSysenter()
    {
        ushort selector = (ushort)(_state.SysenterCs & 0xFFFC);
        if (!_state.ProtectedMode || selector == 0)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        _state.Eflags &= ~(EflagsBits.VM | EflagsBits.IF | EflagsBits.RF);
        LoadFlatSegments(selector, (ushort)(selector + 8), dpl: 0);
        _state.Gpr[Gpr.Rsp] = _state.SysenterEsp;
        _nextIp = _state.SysenterEip;
    }

    /// <summary>SYSEXIT: ring 3 at EDX with ESP = ECX; #GP(0) unless in protected mode at CPL 0 with a SYSENTER_CS set.</summary>
    private void ExecuteSysexit()
    {
        ushort selector = (ushort)(_state.SysenterCs & 0xFFFC);
        if (!_state.ProtectedMode || _state.Virtual8086 || _state.Cpl != 0 || selector == 0)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        LoadFlatSegments((ushort)((selector + 16) | 3), (ushort)((selector + 24) | 3), dpl: 3);
        _state.Gpr[Gpr.Rsp] = (uint)_state.Gpr[Gpr.Rcx];
        _nextIp = (uint)_state.Gpr[Gpr.Rdx];
    }

    private void LoadFlatSegments(ushort codeSelector, ushort stackSelector, int dpl)
    {
        ushort privilege = (ushort)(dpl << 5);
        _state.Segments[SegmentIndex.CS] = new SegmentRegister { Selector = codeSelector, Base = 0, Limit = 0xFFFF_FFFF, Attributes = (ushort)(FlatCodeAttributes | privilege) };
        _state.Segments[SegmentIndex.SS] = new SegmentRegister { Selector = stackSelector, Base = 0, Limit = 0xFFFF_FFFF, Attributes = (ushort)(FlatDataAttributes | privilege) };
        _state.Cpl = dpl;
    }
}
