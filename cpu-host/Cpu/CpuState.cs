using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SplitEmu.CpuHost.Cpu;

/// <summary>The sixteen general-purpose registers, 64 bits wide so long mode can use them unchanged.</summary>
[InlineArray(16)]
public struct GeneralRegisters
{
    private ulong _element;
}

/// <summary>ES, CS, SS, DS, FS, GS in that order (the order of <see cref="SegmentIndex"/> and of Iced's Register enum).</summary>
[InlineArray(6)]
public struct SegmentRegisters
{
    private SegmentRegister _element;
}

/// <summary>Index of a general-purpose register in <see cref="CpuState.Gpr"/> (the ModRM encoding order).</summary>
public static class Gpr
{
    public const int Rax = 0, Rcx = 1, Rdx = 2, Rbx = 3, Rsp = 4, Rbp = 5, Rsi = 6, Rdi = 7;
}

/// <summary>Index of a segment register in <see cref="CpuState.Segments"/>.</summary>
public static class SegmentIndex
{
    public const int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
}

/// <summary>
/// A segment register: the visible selector and the hidden descriptor cache loaded with it.
/// In real mode the cache holds base = selector * 16 and keeps the limit and attributes it had.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public struct SegmentRegister
{
    /// <summary>The visible 16-bit selector.</summary>
    public ushort Selector;
    /// <summary>Linear base address of the segment.</summary>
    public ulong Base;
    /// <summary>Highest valid offset (granularity already applied), or lowest-invalid minus one for expand-down.</summary>
    public uint Limit;
    /// <summary>Descriptor bytes 5 and 6 (type, S, DPL, P in the low byte; AVL, L, D/B, G in bits 12..15).</summary>
    public ushort Attributes;

    public readonly bool Present => (Attributes & DescriptorAttributes.Present) != 0;
    public readonly int Dpl => (Attributes >> 5) & 3;
    /// <summary>D/B bit: 32-bit default operand size (code) or 32-bit stack pointer (stack).</summary>
    public readonly bool Big => (Attributes & DescriptorAttributes.DefaultBig) != 0;
    public readonly bool Long => (Attributes & DescriptorAttributes.Long) != 0;
    public readonly bool IsCode => (Attributes & DescriptorAttributes.Code) != 0;
    public readonly bool IsExpandDown => (Attributes & (DescriptorAttributes.Code | DescriptorAttributes.ExpandDownOrConforming)) == DescriptorAttributes.ExpandDownOrConforming;
}

/// <summary>Bits of <see cref="SegmentRegister.Attributes"/> (descriptor bytes 5 and 6).</summary>
public static class DescriptorAttributes
{
    public const ushort Accessed = 1 << 0;
    /// <summary>Writable (data) or readable (code).</summary>
    public const ushort WritableOrReadable = 1 << 1;
    /// <summary>Expand-down (data) or conforming (code).</summary>
    public const ushort ExpandDownOrConforming = 1 << 2;
    public const ushort Code = 1 << 3;
    /// <summary>S: code or data segment (clear for system descriptors).</summary>
    public const ushort CodeOrData = 1 << 4;
    public const ushort Present = 1 << 7;
    public const ushort Long = 1 << 13;
    public const ushort DefaultBig = 1 << 14;
    public const ushort Granularity = 1 << 15;

    /// <summary>Present, writable, accessed data segment with DPL 0: what real mode and reset leave in data registers.</summary>
    public const ushort RealModeData = Present | CodeOrData | WritableOrReadable | Accessed;
    /// <summary>Present, readable, accessed code segment with DPL 0.</summary>
    public const ushort RealModeCode = Present | CodeOrData | Code | WritableOrReadable | Accessed;
}

/// <summary>GDTR or IDTR: base and limit of a descriptor table.</summary>
public struct DescriptorTableRegister
{
    public ulong Base;
    public ushort Limit;
}

/// <summary>
/// The architectural state of one x86 CPU. Registers are 64 bits wide so long mode can be added
/// without changing this layout; in legacy modes only the low halves are meaningful.
/// </summary>
/// <remarks>
/// <see cref="Eflags"/> is exact whenever <see cref="X86Cpu.Run"/> is not executing (the interpreter
/// keeps arithmetic flags lazily while it runs and writes them back before returning).
/// </remarks>
public struct CpuState
{
    public GeneralRegisters Gpr;
    public ulong Rip;
    public uint Eflags;
    public SegmentRegisters Segments;

    public ulong Cr0;
    public ulong Cr2;
    public ulong Cr3;
    public ulong Cr4;
    public ulong Efer;

    /// <summary>IA32_SYSENTER_CS, _ESP and _EIP: where SYSENTER goes and SYSEXIT's selectors derive from.</summary>
    public uint SysenterCs;
    public uint SysenterEsp;
    public uint SysenterEip;

    public DescriptorTableRegister Gdtr;
    public DescriptorTableRegister Idtr;
    /// <summary>Local descriptor table register (selector plus cached descriptor).</summary>
    public SegmentRegister Ldtr;
    /// <summary>Task register (selector plus cached TSS descriptor).</summary>
    public SegmentRegister Tr;

    /// <summary>Current privilege level (0..3); equals CS.RPL in protected mode, 0 in real mode.</summary>
    public int Cpl;

    /// <summary>Time-stamp counter, advanced by one per retired instruction (when the CPU has no time source).</summary>
    public ulong Tsc;

    /// <summary>What WRMSR to the TSC added to the CPU's time source (the machine clock), so a written TSC reads back and runs on from there.</summary>
    public ulong TscOffset;

    /// <summary>Set by HLT; cleared when an interrupt is delivered.</summary>
    public bool Halted;

    /// <summary>Set while an NMI handler runs: a further NMI waits until the next IRET (SDM vol. 3, 6.7.1).</summary>
    public bool NmiBlocked;

    public ulong Rax { readonly get => Gpr[0]; set => Gpr[0] = value; }
    public ulong Rcx { readonly get => Gpr[1]; set => Gpr[1] = value; }
    public ulong Rdx { readonly get => Gpr[2]; set => Gpr[2] = value; }
    public ulong Rbx { readonly get => Gpr[3]; set => Gpr[3] = value; }
    public ulong Rsp { readonly get => Gpr[4]; set => Gpr[4] = value; }
    public ulong Rbp { readonly get => Gpr[5]; set => Gpr[5] = value; }
    public ulong Rsi { readonly get => Gpr[6]; set => Gpr[6] = value; }
    public ulong Rdi { readonly get => Gpr[7]; set => Gpr[7] = value; }

    public readonly bool ProtectedMode => (Cr0 & ControlRegisters.Cr0Pe) != 0;
    public readonly bool PagingEnabled => (Cr0 & ControlRegisters.Cr0Pg) != 0;
    public readonly bool Virtual8086 => (Eflags & EflagsBits.VM) != 0;
}

/// <summary>Bits of CR0 and CR4 the interpreter acts on.</summary>
public static class ControlRegisters
{
    public const ulong Cr0Pe = 1 << 0;
    public const ulong Cr0Mp = 1 << 1;
    public const ulong Cr0Em = 1 << 2;
    public const ulong Cr0Ts = 1 << 3;
    public const ulong Cr0Et = 1 << 4;
    public const ulong Cr0Ne = 1 << 5;
    public const ulong Cr0Wp = 1 << 16;
    public const ulong Cr0Am = 1 << 18;
    public const ulong Cr0Nw = 1 << 29;
    public const ulong Cr0Cd = 1 << 30;
    public const ulong Cr0Pg = 1u << 31;

    public const ulong Cr4Tsd = 1 << 2;
    public const ulong Cr4Pse = 1 << 4;
    public const ulong Cr4Pge = 1 << 7;
    public const ulong Cr4Pce = 1 << 8;
}

/// <summary>EFLAGS bits.</summary>
public static class EflagsBits
{
    public const uint CF = 1 << 0;
    public const uint Reserved1 = 1 << 1;
    public const uint PF = 1 << 2;
    public const uint AF = 1 << 4;
    public const uint ZF = 1 << 6;
    public const uint SF = 1 << 7;
    public const uint TF = 1 << 8;
    public const uint IF = 1 << 9;
    public const uint DF = 1 << 10;
    public const uint OF = 1 << 11;
    public const uint IoplMask = 3 << 12;
    public const int IoplShift = 12;
    public const uint NT = 1 << 14;
    public const uint RF = 1 << 16;
    public const uint VM = 1 << 17;
    public const uint AC = 1 << 18;
    public const uint VIF = 1 << 19;
    public const uint VIP = 1 << 20;
    public const uint ID = 1 << 21;

    /// <summary>The six flags arithmetic instructions compute.</summary>
    public const uint Arithmetic = CF | PF | AF | ZF | SF | OF;
}

/// <summary>Exception vectors the interpreter raises.</summary>
public static class ExceptionVector
{
    public const int DivideError = 0;
    public const int Debug = 1;
    public const int Nmi = 2;
    public const int Breakpoint = 3;
    public const int Overflow = 4;
    public const int BoundRange = 5;
    public const int InvalidOpcode = 6;
    public const int DeviceNotAvailable = 7;
    public const int DoubleFault = 8;
    public const int InvalidTss = 10;
    public const int SegmentNotPresent = 11;
    public const int StackFault = 12;
    public const int GeneralProtection = 13;
    public const int PageFault = 14;
    public const int FloatingPoint = 16;
    public const int AlignmentCheck = 17;
}
