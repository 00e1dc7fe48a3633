namespace SplitEmu.CpuHost.Cpu;

// CPUID: the processor SplitEmu says it is. It answers as a Pentium II class part (family 6, model 5) with
// exactly the features the interpreter implements, so a guest never takes a path the CPU cannot run.
public sealed partial class X86Cpu
{
    /// <summary>Highest basic leaf: 2 (cache descriptors), as on a Pentium II.</summary>
    private const uint CpuidMaxBasicLeaf = 2;

    /// <summary>Highest extended leaf: the brand string ends at 0x80000004.</summary>
    private const uint CpuidMaxExtendedLeaf = 0x8000_0004;

    /// <summary>
    /// Leaf 1 EAX: family 6, model 5, stepping 2. Model 5 rather than the Pentium Pro's 1: Linux clears SEP on
    /// family 6 models below 3 with steppings below 3 (those parts' SYSENTER was broken).
    /// </summary>
    private const uint CpuidSignature = 0x0000_0652;

    /// <summary>Leaf 1 EDX feature bits.</summary>
    private static class CpuidFeature
    {
        public const uint Fpu = 1 << 0, Pse = 1 << 3, Tsc = 1 << 4, Msr = 1 << 5, Cx8 = 1 << 8, Sep = 1 << 11,
            Apic = 1 << 9, Pge = 1 << 13, Cmov = 1 << 15, Fxsr = 1 << 24;
    }

    /// <summary>
    /// Leaf 1 EDX: what the interpreter implements (plus APIC on a machine with local APICs). Not claimed: VME, DE, PAE, MCE/MCA, MTRR, PAT, PSE-36,
    /// MMX and SSE (none is implemented; their MSRs raise #GP as on a part without them).
    /// </summary>
    private const uint CpuidFeaturesEdx = CpuidFeature.Fpu | CpuidFeature.Pse | CpuidFeature.Tsc | CpuidFeature.Msr | CpuidFeature.Cx8
        | CpuidFeature.Sep | CpuidFeature.Pge | CpuidFeature.Cmov | CpuidFeature.Fxsr;

    /// <summary>Leaf 2: one iteration; 32-entry instruction and 64-entry data TLBs, 16 KiB L1 caches, 512 KiB L2.</summary>
    private const uint CpuidCacheEax = 0x0302_0101, CpuidCacheEdx = 0x0C04_0843;

    /// <summary>Leaves 0x80000002..4: the brand string, 48 bytes NUL-padded.</summary>
    private static readonly byte[] s_brand = BrandBytes("SplitEmu i686 CPU");

    private void ExecuteCpuid()
    {
        uint leaf = (uint)_state.Gpr[Gpr.Rax];
        // Intel answers a leaf above the maximum with the highest basic leaf's values.
        if (leaf > CpuidMaxBasicLeaf && (leaf < 0x8000_0000 || leaf > CpuidMaxExtendedLeaf))
            leaf = CpuidMaxBasicLeaf;

        (uint eax, uint ebx, uint ecx, uint edx) = leaf switch
        {
            0 => (CpuidMaxBasicLeaf, 0x756E_6547u, 0x6C65_746Eu, 0x4965_6E69u), // "GenuineIntel" in EBX, EDX, ECX
            1 => (CpuidSignature, LeafOneEbx(), 0u, LeafOneEdx()),
            2 => (CpuidCacheEax, 0u, 0u, CpuidCacheEdx),
            0x8000_0000 => (CpuidMaxExtendedLeaf, 0u, 0u, 0u),
            >= 0x8000_0002 and <= 0x8000_0004 => BrandLeaf((int)(leaf - 0x8000_0002)),
            _ => (0u, 0u, 0u, 0u), // 0x80000001: no extended features
        };
        _state.Gpr[Gpr.Rax] = eax;
        _state.Gpr[Gpr.Rbx] = ebx;
        _state.Gpr[Gpr.Rcx] = ecx;
        _state.Gpr[Gpr.Rdx] = edx;
    }

    /// <summary>Leaf 1 EBX: the initial APIC ID in bits 31-24 when the CPU has a local APIC.</summary>
    private uint LeafOneEbx() => LocalApic is { } apic ? (uint)apic.InitialId << 24 : 0;

    /// <summary>Leaf 1 EDX: the APIC bit only while the local APIC is globally enabled (IA32_APIC_BASE bit 11), as on hardware.</summary>
    private uint LeafOneEdx() =>
        LocalApic is { } apic && (apic.BaseMsr & (1 << 11)) != 0 ? CpuidFeaturesEdx | CpuidFeature.Apic : CpuidFeaturesEdx;

    private static (uint, uint, uint, uint) BrandLeaf(int index)
    {
        ReadOnlySpan<byte> part = s_brand.AsSpan(index * 16, 16);
        return (BitConverter.ToUInt32(part[..4]), BitConverter.ToUInt32(part[4..8]),
            BitConverter.ToUInt32(part[8..12]), BitConverter.ToUInt32(part[12..]));
    }

    private static byte[] BrandBytes(string brand)
    {
        byte[] bytes = new byte[48];
        System.Text.Encoding.ASCII.GetBytes(brand, bytes);
        return bytes;
    }
}
