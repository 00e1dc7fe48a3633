using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

/// <summary>Feeds Iced's decoder the bytes at CS:offset, through segmentation and paging; stops at a fault.</summary>
internal sealed class GuestCodeReader : CodeReader
{
    private readonly X86Cpu _cpu;
    private ulong _offset;
    private ulong _offsetMask;

    public GuestCodeReader(X86Cpu cpu) => _cpu = cpu;

    public void Start(ulong offset, ulong offsetMask)
    {
        _offset = offset;
        _offsetMask = offsetMask;
    }

    public override int ReadByte()
    {
        int value = _cpu.ReadCodeByte(_offset);
        _offset = (_offset + 1) & _offsetMask;
        return value;
    }
}
