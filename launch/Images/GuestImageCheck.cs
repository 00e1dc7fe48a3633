using System.Buffers.Binary;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.Launch.Images;

/// <summary>
/// Checks guest images before anything starts: an empty file, or a flat image whose Multiboot header
/// (a.out kludge fields) says it is longer than the file, is refused with one line naming the file.
/// </summary>
public static class GuestImageCheck
{
    private const uint MultibootMagic = 0x1BAD_B002;
    private const uint AddressFieldsValid = 1u << 16;

    /// <summary>The Multiboot specification puts the header within the first 8 KiB, 4-byte aligned.</summary>
    private const int HeaderSearchLimit = 8192;

    /// <summary>One error line per bad image of <paramref name="profile"/>; empty when all are sound.</summary>
    public static IReadOnlyList<string> Check(MachineProfile profile)
    {
        List<string> errors = [];
        foreach (LoadConfig image in profile.Load)
        {
            string? error = CheckFile(image.File);
            if (error is not null)
            {
                errors.Add(error);
            }
        }

        return errors;
    }

    /// <summary>Checks one image file; returns an error line or null.</summary>
    public static string? CheckFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"{path}: cannot read the guest image: {ex.Message}";
        }

        if (bytes.Length == 0)
        {
            return $"{path}: the guest image is empty; expected a flat binary";
        }

        int limit = Math.Min(bytes.Length, HeaderSearchLimit) - 32;
        for (int offset = 0; offset <= limit; offset += 4)
        {
            ReadOnlySpan<byte> header = bytes.AsSpan(offset, 32);
            uint magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
            if (magic != MultibootMagic || magic + flags + checksum != 0 || (flags & AddressFieldsValid) == 0)
            {
                continue;
            }

            uint headerAddress = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
            uint loadAddress = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
            uint loadEndAddress = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
            long fileStart = offset - ((long)headerAddress - loadAddress);
            long length = loadEndAddress == 0 ? bytes.Length - fileStart : (long)loadEndAddress - loadAddress;
            if (fileStart < 0 || length < 0 || fileStart + length > bytes.Length)
            {
                return $"{path}: the guest image is truncated: its Multiboot header says {fileStart + length} bytes, the file has {bytes.Length}; rebuild or re-copy it";
            }

            return null;
        }

        return null; // a plain flat binary: nothing states its length
    }
}
