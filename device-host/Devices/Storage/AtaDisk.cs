using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace SplitEmu.DeviceHost.Devices.Storage;

/// <summary>
/// An ATA hard disk backed by a raw image file: its medium (sectors of 512 bytes, read and written straight
/// to the file), its IDENTIFY DEVICE data and the settings commands change (multiple count, CHS translation,
/// transfer modes, write cache). The registers and the command protocol live in <see cref="IdeChannel"/>.
/// </summary>
internal sealed class AtaDisk : IDisposable
{
    /// <summary>Bytes per sector.</summary>
    public const int SectorSize = 512;

    /// <summary>Largest DRQ block of READ/WRITE MULTIPLE, in sectors (IDENTIFY word 47).</summary>
    public const int MaxMultipleSectors = 16;

    /// <summary>Default CHS translation: heads.</summary>
    public const int DefaultHeads = 16;

    /// <summary>Default CHS translation: sectors per track.</summary>
    public const int DefaultSectorsPerTrack = 63;

    /// <summary>Largest LBA28 capacity (IDENTIFY words 60-61).</summary>
    private const ulong MaxLba28Sectors = 0x0FFF_FFFF;

    /// <summary>Largest cylinder count of the default geometry (ATA: 16383 for disks above 8.4 GB).</summary>
    private const ulong MaxDefaultCylinders = 16383;

    private readonly SafeFileHandle _file;

    /// <summary>Opens <paramref name="path"/> (absolute) as drive <paramref name="position"/> of the controller.</summary>
    /// <param name="configKey">The configuration key that named the file, for error messages.</param>
    /// <param name="path">Absolute path of a raw image whose size is a multiple of 512.</param>
    /// <param name="position">0-3: primary master, primary slave, secondary master, secondary slave (serial number).</param>
    /// <exception cref="ArgumentException">The path is not absolute, the file cannot be opened, or its size is not a positive multiple of 512.</exception>
    public AtaDisk(string configKey, string path, int position)
    {
        if (!Path.IsPathFullyQualified(path))
        {
            throw new ArgumentException($"'{configKey}': disk image path '{path}' is not absolute", configKey);
        }

        try
        {
            _file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"'{configKey}': cannot open disk image '{path}': {e.Message}", configKey, e);
        }

        bool locked;
        try
        {
            locked = DiskImageLock.TryTake(_file);
        }
        catch (IOException e)
        {
            _file.Dispose();
            throw new ArgumentException($"'{configKey}': disk image '{path}': {e.Message}", configKey, e);
        }

        if (!locked)
        {
            _file.Dispose();
            throw new ArgumentException(
                $"'{configKey}': disk image '{path}' is in use by another machine or drive (it is locked); opening it twice would corrupt it", configKey);
        }

        long length = RandomAccess.GetLength(_file);
        if (length == 0 || length % SectorSize != 0)
        {
            _file.Dispose();
            throw new ArgumentException(
                $"'{configKey}': disk image '{path}' is {length} bytes, which is not a positive multiple of {SectorSize}", configKey);
        }

        ImagePath = path;
        Position = position;
        SectorCount = (ulong)length / SectorSize;
        DefaultCylinders = (int)Math.Min(SectorCount / (DefaultHeads * DefaultSectorsPerTrack), MaxDefaultCylinders);
        ResetSettings();
    }

    /// <summary>The image's path.</summary>
    public string ImagePath { get; }

    /// <summary>0-3, the drive's place on the controller.</summary>
    public int Position { get; }

    /// <summary>Sectors of the medium.</summary>
    public ulong SectorCount { get; }

    /// <summary>Cylinders of the default translation (16 heads, 63 sectors per track).</summary>
    public int DefaultCylinders { get; }

    /// <summary>The drive's settings and status, saved with the controller.</summary>
    public DriveState State { get; set; } = new();

    /// <summary>Logical cylinders of the current CHS translation.</summary>
    public int LogicalCylinders =>
        (int)Math.Min(SectorCount / (ulong)(State.LogicalHeads * State.LogicalSectorsPerTrack), 65535);

    /// <summary>
    /// Back to power-on settings: default translation, fastest modes selected, and multiple mode on at its largest
    /// block. ATA leaves the power-on multiple count to the vendor; drives and QEMU's model start at their maximum
    /// (IDENTIFY word 59 = 0x0110), and Linux's libata takes the count it finds there for its PIO transfers.
    /// </summary>
    public void ResetSettings() => State = new DriveState
    {
        MultipleSectors = MaxMultipleSectors,
        Status = AtaStatus.Idle,
        Error = AtaError.DiagnosticPassed,
        LogicalHeads = DefaultHeads,
        LogicalSectorsPerTrack = DefaultSectorsPerTrack,
        WriteCacheEnabled = true,
        TransferMode = 0x45, // UDMA mode 5 selected, as a drive reports after the BIOS set it
    };

    /// <summary>Reads the medium at byte <paramref name="offset"/> into <paramref name="destination"/>.</summary>
    /// <returns>False when the file could not be read (an I/O error or a short read).</returns>
    public bool TryRead(long offset, Span<byte> destination)
    {
        try
        {
            int total = 0;
            while (total < destination.Length)
            {
                int n = RandomAccess.Read(_file, destination[total..], offset + total);
                if (n == 0)
                {
                    return false;
                }

                total += n;
            }

            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Writes <paramref name="source"/> to the medium at byte <paramref name="offset"/> (straight to the file).</summary>
    /// <returns>False when the file could not be written.</returns>
    public bool TryWrite(long offset, ReadOnlySpan<byte> source)
    {
        try
        {
            RandomAccess.Write(_file, source, offset);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>FLUSH CACHE: pushes the file's written data to the medium.</summary>
    public bool TryFlush()
    {
        try
        {
            RandomAccess.FlushToDisk(_file);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Fills <paramref name="buffer"/> (512 bytes) with IDENTIFY DEVICE data (ATA/ATAPI-7 volume 1, table 16).</summary>
    public void WriteIdentify(Span<byte> buffer)
    {
        buffer[..SectorSize].Clear();

        ulong lba28 = Math.Min(SectorCount, MaxLba28Sectors);
        int cylinders = LogicalCylinders;
        ulong currentChs = (ulong)cylinders * (ulong)State.LogicalHeads * (ulong)State.LogicalSectorsPerTrack;

        Word(buffer, 0, 0x0040);                           // fixed, non-removable ATA device
        Word(buffer, 1, DefaultCylinders);
        Word(buffer, 3, DefaultHeads);
        Word(buffer, 6, DefaultSectorsPerTrack);
        WriteString(buffer, 10, 20, $"SPLITEMU-IDE{Position}");
        WriteString(buffer, 23, 8, "1.0");
        WriteString(buffer, 27, 40, "SPLITEMU HARDDISK");
        Word(buffer, 47, 0x8000 | MaxMultipleSectors);
        Word(buffer, 49, 0x0F00);                          // IORDY, IORDY may be disabled, LBA, DMA
        Word(buffer, 50, 0x4000);
        Word(buffer, 51, 0x0200);                          // PIO mode 2 timing (obsolete field)
        Word(buffer, 53, 0x0007);                          // words 54-58, 64-70 and 88 are valid
        Word(buffer, 54, cylinders);
        Word(buffer, 55, State.LogicalHeads);
        Word(buffer, 56, State.LogicalSectorsPerTrack);
        Word(buffer, 57, (int)(currentChs & 0xFFFF));
        Word(buffer, 58, (int)(currentChs >> 16));
        Word(buffer, 59, State.MultipleSectors == 0 ? 0 : 0x0100 | State.MultipleSectors);
        Word(buffer, 60, (int)(lba28 & 0xFFFF));
        Word(buffer, 61, (int)(lba28 >> 16));
        Word(buffer, 63, 0x0007 | (IsMode(0x20) ? 0x0100 << (State.TransferMode & 0x7) : 0)); // multiword DMA 0-2
        Word(buffer, 64, 0x0003);                          // PIO modes 3 and 4
        Word(buffer, 65, 120);                             // minimum multiword DMA cycle time (ns)
        Word(buffer, 66, 120);                             // recommended multiword DMA cycle time
        Word(buffer, 67, 120);                             // minimum PIO cycle time without flow control
        Word(buffer, 68, 120);                             // minimum PIO cycle time with IORDY
        Word(buffer, 80, 0x00FE);                          // ATA-1 to ATA-7
        Word(buffer, 82, 0x4068);                          // NOP, look-ahead, write cache, power management
        Word(buffer, 83, 0x7400);                          // FLUSH CACHE EXT, FLUSH CACHE, 48-bit addresses
        Word(buffer, 84, 0x4000);
        Word(buffer, 85, 0x4048 | (State.WriteCacheEnabled ? 0x0020 : 0));
        Word(buffer, 86, 0x3400);
        Word(buffer, 87, 0x4000);
        Word(buffer, 88, 0x003F | (IsMode(0x40) ? 0x0100 << (State.TransferMode & 0x7) : 0)); // UDMA 0-5
        Word(buffer, 93, 0x600B);                          // device 0 by jumper, passed diagnostics, 80-conductor cable
        Word(buffer, 100, (int)(SectorCount & 0xFFFF));
        Word(buffer, 101, (int)((SectorCount >> 16) & 0xFFFF));
        Word(buffer, 102, (int)((SectorCount >> 32) & 0xFFFF));
        Word(buffer, 103, (int)((SectorCount >> 48) & 0xFFFF));

        // Word 255: signature 0xA5 and a checksum that makes the 512 bytes sum to 0 (mod 256).
        buffer[510] = 0xA5;
        byte sum = 0;
        for (int i = 0; i < SectorSize - 1; i++)
        {
            sum += buffer[i];
        }

        buffer[511] = (byte)-sum;
    }

    /// <inheritdoc/>
    public void Dispose() => _file.Dispose();

    /// <summary>Whether the selected transfer mode is of the class <paramref name="modeClass"/> (0x20 multiword DMA, 0x40 UDMA).</summary>
    private bool IsMode(int modeClass) => (State.TransferMode & 0xF8) == modeClass;

    private static void Word(Span<byte> buffer, int index, int value) =>
        BinaryPrimitives.WriteUInt16LittleEndian(buffer[(index * 2)..], (ushort)value);

    /// <summary>An ATA string: space-padded, two characters per word, the first in the high byte.</summary>
    private static void WriteString(Span<byte> buffer, int firstWord, int length, string text)
    {
        for (int i = 0; i < length; i++)
        {
            byte c = i < text.Length ? (byte)text[i] : (byte)' ';
            buffer[(firstWord * 2) + (i ^ 1)] = c;
        }
    }
}
