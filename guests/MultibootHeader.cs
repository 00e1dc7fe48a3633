using Iced.Intel;

namespace SplitEmu.Guests;

/// <summary>
/// A Multiboot (version 1) header with the "a.out kludge" address fields, at the start of a flat image.
/// It states how long the image is, so a loader can refuse a truncated file instead of running garbage
/// (QEMU's -kernel checks the same fields). Layout from the Multiboot Specification 0.6.96, section 3.1.
/// </summary>
public static class MultibootHeader
{
    /// <summary>The header's magic number.</summary>
    public const uint Magic = 0x1BAD_B002;

    /// <summary>Flag bit 16: the address fields are valid.</summary>
    public const uint AddressFieldsValid = 1u << 16;

    /// <summary>Offset of the header in the image: after a two-byte short jump and two bytes of padding.</summary>
    public const int Offset = 4;

    /// <summary>
    /// Emits a jump over the header and the header itself. Must be the first thing assembled, so the header
    /// sits at <see cref="Offset"/> (4-byte aligned, within the first 8 KiB as the specification requires).
    /// </summary>
    public static void Emit(Assembler a, ulong loadAddress, uint imageLength)
    {
        Label start = a.CreateLabel("after_multiboot_header");
        a.PreferShortBranch = true;
        a.jmp(start);
        a.db(0x90, 0x90);                              // pad to the 4-byte aligned header
        a.dd(Magic);
        a.dd(AddressFieldsValid);
        a.dd(unchecked(0u - (Magic + AddressFieldsValid))); // checksum: the three words add up to zero
        a.dd((uint)loadAddress + Offset);              // header_addr
        a.dd((uint)loadAddress);                       // load_addr: the file is loaded from its first byte
        a.dd((uint)loadAddress + imageLength);         // load_end_addr
        a.dd(0u);                                      // bss_end_addr: no BSS
        a.dd((uint)loadAddress);                       // entry_addr: the jump above
        a.Label(ref start);
    }
}
