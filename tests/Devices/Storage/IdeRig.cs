using SplitEmu.DeviceHost.Devices.Storage;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices.Storage;

/// <summary>
/// A PIIX3 IDE controller on a fake machine with image files in a temporary folder; disposing it closes the
/// images and deletes the folder, also when the test failed.
/// </summary>
internal sealed class IdeRig : IDisposable
{
    /// <summary>Status: DRDY | DSC, an idle device.</summary>
    public const byte Idle = 0x50;

    /// <summary>Status: idle with DRQ (a data block is ready).</summary>
    public const byte IdleWithData = 0x58;

    private readonly TempFolder _folder = new();

    /// <summary>Creates the controller with images at the positions <paramref name="drives"/> names (keys to sector counts).</summary>
    public IdeRig(params (string Key, long Sectors)[] drives)
    {
        try
        {
            Dictionary<string, string> config = [];
            foreach ((string key, long sectors) in drives)
            {
                string path = _folder.File(key + ".img");
                WritePatternImage(path, sectors);
                config[key] = path;
            }

            Context = new FakeDeviceContext("ide", ramBytes: 1 << 20);
            Ide = new Piix3Ide(new DeviceConfig { Id = "ide", Type = Piix3Ide.TypeName, Config = config }, Context);
        }
        catch
        {
            _folder.Dispose();
            throw;
        }
    }

    /// <summary>A primary master of 8192 sectors (4 MiB, as in the reference boot).</summary>
    public IdeRig()
        : this(("primary-master", 8192))
    {
    }

    public FakeDeviceContext Context { get; }

    public Piix3Ide Ide { get; }

    public TempFolder Folder => _folder;

    /// <summary>Image path of configuration key <paramref name="key"/>.</summary>
    public string ImagePath(string key) => _folder.File(key + ".img");

    /// <summary>The pattern byte at byte <paramref name="offset"/> of every image: it differs between neighbouring sectors.</summary>
    public static byte Pattern(long offset) => (byte)((offset / 512 * 31) + (offset % 512 * 7) + 1);

    /// <summary>Writes an image of <paramref name="sectors"/> sectors; its first 64 sectors carry <see cref="Pattern"/>, the rest is sparse zeros.</summary>
    public static void WritePatternImage(string path, long sectors)
    {
        using FileStream file = new(path, FileMode.Create, FileAccess.Write);
        file.SetLength(sectors * 512);
        byte[] head = new byte[Math.Min(sectors, 64) * 512];
        for (int i = 0; i < head.Length; i++)
        {
            head[i] = Pattern(i);
        }

        file.Write(head);
    }

    // Primary channel helpers (region 1 = 0x1F0-0x1F7, region 2 = 0x3F6).

    public byte Status() => (byte)Ide.Read(Piix3Ide.PrimaryCommandRegion, 7, 1);

    public byte AltStatus() => (byte)Ide.Read(Piix3Ide.PrimaryControlRegion, 0, 1);

    public byte Register(int offset) => (byte)Ide.Read(Piix3Ide.PrimaryCommandRegion, (ulong)offset, 1);

    public void SetRegister(int offset, byte value) => Ide.Write(Piix3Ide.PrimaryCommandRegion, (ulong)offset, 1, value);

    public void Control(byte value) => Ide.Write(Piix3Ide.PrimaryControlRegion, 0, 1, value);

    public void Command(byte command) => SetRegister(7, command);

    /// <summary>Loads an LBA28 address and count for the master (or the slave).</summary>
    public void Lba28(uint lba, byte count, bool slave = false)
    {
        SetRegister(2, count);
        SetRegister(3, (byte)lba);
        SetRegister(4, (byte)(lba >> 8));
        SetRegister(5, (byte)(lba >> 16));
        SetRegister(6, (byte)(0xE0u | (slave ? 0x10u : 0u) | ((lba >> 24) & 0x0Fu)));
    }

    /// <summary>Reads one 512-byte block from the data register with 16-bit accesses.</summary>
    public byte[] ReadBlock()
    {
        byte[] data = new byte[512];
        for (int i = 0; i < 512; i += 2)
        {
            ushort word = (ushort)Ide.Read(Piix3Ide.PrimaryCommandRegion, 0, 2);
            data[i] = (byte)word;
            data[i + 1] = (byte)(word >> 8);
        }

        return data;
    }

    /// <summary>Writes one 512-byte block to the data register with 32-bit accesses.</summary>
    public void WriteBlock(ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < 512; i += 4)
        {
            Ide.Write(Piix3Ide.PrimaryCommandRegion, 0, 4, BitConverter.ToUInt32(data[i..(i + 4)]));
        }
    }

    /// <summary>The pattern the image holds at sector <paramref name="lba"/>.</summary>
    public static byte[] ExpectedSector(long lba)
    {
        byte[] data = new byte[512];
        for (int i = 0; i < 512; i++)
        {
            data[i] = Pattern((lba * 512) + i);
        }

        return data;
    }

    public void Dispose()
    {
        Ide?.Dispose();
        _folder.Dispose();
    }
}
