namespace SplitEmu.CpuHost.Cpu;

public sealed partial class X86Cpu
{
    /// <summary>This CPU's local APIC as CPUID and IA32_APIC_BASE see it; null on a machine without local APICs.</summary>
    public ICpuLocalApic? LocalApic { get; set; }

    /// <summary>CPUID leaf 1 EAX (family, model, stepping), for the MP table's processor entries.</summary>
    public static uint Signature => CpuidSignature;

    /// <summary>CPUID leaf 1 EDX of a CPU with its local APIC enabled, for the MP table's processor entries.</summary>
    public static uint FeatureFlagsWithApic => CpuidFeaturesEdx | CpuidFeature.Apic;

    /// <summary>
    /// What a start-up IPI does to an application processor waiting for one (Intel SDM vol. 3, 8.4.4 and MP
    /// specification 1.4, B.4.2): from the INIT state, it starts in real mode at <c>vector:0000</c>, that is CS =
    /// vector × 256 with base vector × 4096, IP = 0. Called on the CPU's own thread, after <see cref="Reset"/>.
    /// </summary>
    public void StartAt(byte vector)
    {
        _state.Segments[SegmentIndex.CS] = new SegmentRegister
        {
            Selector = (ushort)(vector << 8),
            Base = (ulong)vector << 12,
            Limit = 0xFFFF,
            Attributes = DescriptorAttributes.RealModeCode,
        };
        _state.Rip = 0;
        _state.Halted = false;
        FlushTranslations();
    }

    /// <summary>PAUSEs between two yields of the host core (a power of two).</summary>
    private const int PausesPerYield = 64;

    /// <summary>PAUSEs this CPU has executed, modulo the yield interval.</summary>
    private int _pauses;

    /// <summary>
    /// PAUSE, the spin-wait hint: every <see cref="PausesPerYield"/>th yields the host core, as a pause-loop exit
    /// does under KVM. A vCPU spinning on a lock whose holder's thread waits for this very core (more vCPUs than
    /// cores, or the device process's serving thread) would otherwise burn its whole time slice first.
    /// </summary>
    private void SpinWaitHint()
    {
        if ((++_pauses & (PausesPerYield - 1)) == 0)
        {
            Thread.Yield();
        }
    }
}
