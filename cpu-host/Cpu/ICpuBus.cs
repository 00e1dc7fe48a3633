namespace SplitEmu.CpuHost.Cpu;

/// <summary>
/// The machine as the CPU sees it: physical memory and the I/O port space.
/// Implemented by the CPU process's dispatch layer (address spaces, flat views, leases);
/// the interpreter never decodes device addresses itself.
/// </summary>
/// <remarks>
/// RAM is reached through host pointers to whole 4 KiB pages, so the interpreter's software TLB
/// can cache them. Everything that is not plain RAM (MMIO, ROM writes, unassigned space) goes
/// through <see cref="ReadMemory"/>/<see cref="WriteMemory"/>, one access at a time, in the order
/// the guest performs them. <see cref="MapGeneration"/> changes whenever a new flat view is
/// published; the CPU must drop cached page pointers when it sees a new value (checked before
/// each instruction, so the next instruction after a map change sees the new map).
/// <para>
/// Threading: <see cref="X86Cpu"/> calls these members only on the thread running <see cref="X86Cpu.Run"/>
/// (and from its constructor and <see cref="X86Cpu.Reset"/>). <see cref="MapGeneration"/> may change on any
/// thread; page pointers the CPU obtained under an older generation are not used after it sees the new value.
/// Writes by anything other than the CPU (DMA) into memory that may hold code must be reported through
/// <see cref="X86Cpu.InvalidateCode"/>.
/// </para>
/// </remarks>
public unsafe interface ICpuBus
{
    /// <summary>Incremented each time the memory map changes; cached page pointers are stale after a change.</summary>
    int MapGeneration { get; }

    /// <summary>
    /// Host pointer to the start of the 4 KiB guest-physical page that holds <paramref name="physicalAddress"/>
    /// if that page is directly accessible RAM for this kind of access (ROM pages are returned for reads only),
    /// else null: the access must then go through <see cref="ReadMemory"/>/<see cref="WriteMemory"/>.
    /// </summary>
    byte* GetRamPage(ulong physicalAddress, bool write);

    /// <summary>Reads 1, 2, 4 or 8 bytes of non-RAM physical memory. Unassigned space reads as all ones.</summary>
    ulong ReadMemory(ulong physicalAddress, int size);

    /// <summary>Writes 1, 2, 4 or 8 bytes of non-RAM physical memory. Writes to unassigned space are dropped.</summary>
    void WriteMemory(ulong physicalAddress, int size, ulong value);

    /// <summary>Reads 1, 2 or 4 bytes from an I/O port. Ports without a device read as all ones.</summary>
    uint ReadPort(ushort port, int size);

    /// <summary>Writes 1, 2 or 4 bytes to an I/O port.</summary>
    void WritePort(ushort port, int size, uint value);
}
