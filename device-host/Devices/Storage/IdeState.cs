using MemoryPack;

namespace SplitEmu.DeviceHost.Devices.Storage;

// Saved state of the IDE controller. Append-only contracts: never reorder, retype or remove a member.

/// <summary>One drive's status and the settings commands changed.</summary>
[MemoryPackable]
internal sealed partial class DriveState
{
    public byte Status { get; set; }

    public byte Error { get; set; }

    /// <summary>The drive asserts INTRQ (when selected and nIEN is clear) until its status is read or a command is written.</summary>
    public bool InterruptPending { get; set; }

    /// <summary>Sectors per DRQ block of READ/WRITE MULTIPLE (0 = multiple mode off).</summary>
    public int MultipleSectors { get; set; }

    public int LogicalHeads { get; set; }

    public int LogicalSectorsPerTrack { get; set; }

    public bool WriteCacheEnabled { get; set; }

    /// <summary>SET FEATURES transfer mode value (0x08 | n PIO, 0x20 | n multiword DMA, 0x40 | n UDMA).</summary>
    public byte TransferMode { get; set; }
}

/// <summary>What a channel is in the middle of.</summary>
internal enum IdeTransfer : byte
{
    /// <summary>No data phase.</summary>
    None = 0,

    /// <summary>PIO data from the device to the host (DRQ set, the host reads the data register).</summary>
    PioIn = 1,

    /// <summary>PIO data from the host to the device (DRQ set, the host writes the data register).</summary>
    PioOut = 2,

    /// <summary>A DMA command waits for the bus master to start.</summary>
    DmaPending = 3,
}

/// <summary>One channel: task file, transfer position and bus-master registers.</summary>
[MemoryPackable]
internal sealed partial class ChannelState
{
    public byte Features { get; set; }

    public byte FeaturesPrevious { get; set; }

    public byte SectorCount { get; set; }

    public byte SectorCountPrevious { get; set; }

    public byte LbaLow { get; set; }

    public byte LbaLowPrevious { get; set; }

    public byte LbaMid { get; set; }

    public byte LbaMidPrevious { get; set; }

    public byte LbaHigh { get; set; }

    public byte LbaHighPrevious { get; set; }

    public byte Device { get; set; }

    public byte Control { get; set; }

    public IdeTransfer Transfer { get; set; }

    /// <summary>The command whose data phase is in progress.</summary>
    public byte Command { get; set; }

    /// <summary>0 or 1: the drive the transfer belongs to.</summary>
    public int ActiveDrive { get; set; }

    /// <summary>The current DRQ block (only its first <see cref="BufferLength"/> bytes matter).</summary>
    public byte[] Buffer { get; set; } = [];

    /// <summary>Bytes of the current block the host has read or written.</summary>
    public int BufferPosition { get; set; }

    public int BufferLength { get; set; }

    /// <summary>First sector of the next block (PIO) or of the transfer (DMA).</summary>
    public ulong NextLba { get; set; }

    /// <summary>Sectors after the current block (PIO) or of the whole transfer (DMA).</summary>
    public uint RemainingSectors { get; set; }

    /// <summary>Sectors per DRQ block of the command (1, or the multiple count).</summary>
    public int BlockSectors { get; set; }

    public byte BusMasterCommand { get; set; }

    public byte BusMasterStatus { get; set; }

    public uint PrdTableAddress { get; set; }

    public bool IrqAsserted { get; set; }

    /// <summary>Per drive (null where no drive is attached).</summary>
    public DriveState?[] Drives { get; set; } = [];
}

/// <summary>The controller's state.</summary>
[MemoryPackable]
internal sealed partial class Piix3IdeState
{
    public byte[] Config { get; set; } = [];

    /// <summary>Whether the bus-master region is shown in the I/O map.</summary>
    public bool BusMasterVisible { get; set; }

    /// <summary>Where the bus-master region was last moved to.</summary>
    public ulong BusMasterBase { get; set; }

    public ChannelState[] Channels { get; set; } = [];
}
