using System.Runtime.InteropServices;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// A PC BIOS image as the machine holds it: read-only host memory mapped as ROM ending at 4 GiB (where the reset
/// vector is), and its last 128 KiB, which a PC shadows into RAM below 1 MiB for real-mode code, loaded there at
/// power-on and at every reset. See docs/pc-platform.md for what is left out.
/// </summary>
public sealed unsafe class FirmwareRom : IDisposable
{
    private readonly byte[] _image;
    private byte* _memory;

    /// <summary>Copies <paramref name="image"/> into page-aligned host memory that lives as long as this ROM.</summary>
    public FirmwareRom(byte[] image)
    {
        _image = image;
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)image.Length, 4096);
        image.CopyTo(new Span<byte>(_memory, image.Length));
    }

    /// <summary>Bytes of ROM.</summary>
    public ulong Size => (ulong)_image.Length;

    /// <summary>First byte of the ROM's host memory (what the map's ROM region reads).</summary>
    public byte* Base => _memory;

    /// <summary>Where the ROM starts in guest-physical memory: it ends at 4 GiB.</summary>
    public ulong Address => ProfileDefaults.FirmwareTop - Size;

    /// <summary>Copies the image's last 128 KiB (or all of a smaller one) below 1 MiB, its shadow in RAM.</summary>
    public void LoadShadow(GuestRam ram)
    {
        int shadow = (int)Math.Min(_image.Length, ProfileDefaults.FirmwareShadowBytes);
        ram.Load(ProfileDefaults.FirmwareShadowEnd - (ulong)shadow, _image.AsSpan(_image.Length - shadow));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_memory != null)
        {
            NativeMemory.AlignedFree(_memory);
            _memory = null;
        }
    }
}
