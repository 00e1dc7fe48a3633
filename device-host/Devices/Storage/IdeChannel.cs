using System.Buffers.Binary;
using SplitEmu.DeviceHost.Sdk;

namespace SplitEmu.DeviceHost.Devices.Storage;

/// <summary>
/// One ATA channel of the controller: the task file shared by its two drive positions, the device control
/// register, the command protocol (PIO in, PIO out, DMA, non-data) and the channel's half of the bus-master
/// IDE registers. Transfers complete synchronously inside the access that starts them, so the model is
/// deterministic and needs no timer.
/// </summary>
/// <remarks>
/// Absent devices behave as on QEMU, which is what SeaBIOS's probe is tuned to: on a channel with no drive
/// every register reads 0 (status 0 is "not busy", so the probe does not wait, and the device register does
/// not read back, so it moves on); with a master and no slave, selecting the slave reads status 0 while the
/// other task-file registers read back what was written, and commands to the slave are ignored.
/// </remarks>
internal sealed class IdeChannel
{
    /// <summary>Bytes of the PIO buffer: the largest DRQ block (READ/WRITE MULTIPLE with 16 sectors).</summary>
    public const int BufferSize = AtaDisk.MaxMultipleSectors * AtaDisk.SectorSize;

    private const byte BusMasterStart = 0x01;
    private const byte BusMasterToMemory = 0x08;
    private const byte BusMasterActive = 0x01;
    private const byte BusMasterError = 0x02;
    private const byte BusMasterInterrupt = 0x04;
    private const byte BusMasterDriveCapable = 0x60;

    /// <summary>PCI status bit 13: received master abort (a DMA the machine refused).</summary>
    private const ushort PciStatusReceivedMasterAbort = 0x2000;

    private readonly IDeviceContext _context;
    private readonly int _irqLine;
    private readonly AtaDisk?[] _drives;
    private readonly Sdk.Pci.PciConfigSpace _config;

    /// <summary>Scratch for DMA (one PRD entry at most); shared by both channels, used only inside one access.</summary>
    private readonly byte[] _dmaScratch;

    private ChannelState _s = new();

    public IdeChannel(IDeviceContext context, int irqLine, AtaDisk? master, AtaDisk? slave, Sdk.Pci.PciConfigSpace config, byte[] dmaScratch)
    {
        _context = context;
        _irqLine = irqLine;
        _drives = [master, slave];
        _config = config;
        _dmaScratch = dmaScratch;
        Reset(powerOn: true);
    }

    private bool HasDrives => _drives[0] is not null || _drives[1] is not null;

    private int SelectedIndex => (_s.Device & AtaDevice.Slave) != 0 ? 1 : 0;

    private AtaDisk? Selected => _drives[SelectedIndex];

    private bool InReset => (_s.Control & AtaControl.SoftwareReset) != 0;

    /// <summary>Power-on or machine reset: registers, transfer and bus master back to their initial state.</summary>
    public void Reset(bool powerOn)
    {
        bool wasAsserted = _s.IrqAsserted;
        _s = new ChannelState { Buffer = new byte[BufferSize], IrqAsserted = wasAsserted && !powerOn };
        foreach (AtaDisk? drive in _drives)
        {
            drive?.ResetSettings();
        }

        // The BIOS would set the "drive n can DMA" bits; set them for the drives that are there.
        _s.BusMasterStatus = (byte)((_drives[0] is null ? 0 : 0x20) | (_drives[1] is null ? 0 : 0x40));
        WriteSignature();
        UpdateIrq();
    }

    /// <summary>The channel's state for a snapshot.</summary>
    public ChannelState Save()
    {
        _s.Drives = [_drives[0]?.State, _drives[1]?.State];
        return _s;
    }

    /// <summary>Replaces the channel's state.</summary>
    /// <exception cref="InvalidDataException">The state does not fit this channel's drives.</exception>
    public void Restore(ChannelState state)
    {
        if (state.Drives.Length != 2 || state.Buffer.Length != BufferSize)
        {
            throw new InvalidDataException("IDE channel state has the wrong shape");
        }

        for (int i = 0; i < 2; i++)
        {
            if ((state.Drives[i] is null) != (_drives[i] is null))
            {
                throw new InvalidDataException($"IDE channel state was saved with a different drive {i} (attached or not)");
            }

            if (_drives[i] is AtaDisk drive)
            {
                drive.State = state.Drives[i]!;
            }
        }

        _s = state;
    }

    // ---------------------------------------------------------------- command block and control block

    /// <summary>A read of command-block register <paramref name="offset"/> (0-7).</summary>
    public ulong ReadCommandBlock(int offset, int size)
    {
        if (!HasDrives)
        {
            return 0; // nothing drives the bus: read as QEMU does, so probes end at once
        }

        bool hob = (_s.Control & AtaControl.HighOrderByte) != 0;
        switch (offset)
        {
            case AtaRegister.Data:
                return ReadData(size);
            case AtaRegister.ErrorFeatures:
                return Selected?.State.Error ?? 0;
            case AtaRegister.SectorCount:
                return hob ? _s.SectorCountPrevious : _s.SectorCount;
            case AtaRegister.LbaLow:
                return hob ? _s.LbaLowPrevious : _s.LbaLow;
            case AtaRegister.LbaMid:
                return hob ? _s.LbaMidPrevious : _s.LbaMid;
            case AtaRegister.LbaHigh:
                return hob ? _s.LbaHighPrevious : _s.LbaHigh;
            case AtaRegister.Device:
                return _s.Device;
            default:
                if (Selected is not AtaDisk drive)
                {
                    return 0;
                }

                // Reading Status acknowledges the interrupt (Alternate Status does not).
                byte status = CurrentStatus(drive);
                drive.State.InterruptPending = false;
                UpdateIrq();
                return status;
        }
    }

    /// <summary>A write of command-block register <paramref name="offset"/> (0-7).</summary>
    public void WriteCommandBlock(int offset, int size, ulong value)
    {
        byte data = (byte)value;
        if (offset == AtaRegister.Data)
        {
            WriteData(size, value);
            return;
        }

        if (InReset)
        {
            return; // the devices are busy resetting
        }

        // Any write to the command block clears HOB; the LBA48 registers are two-deep FIFOs.
        _s.Control &= unchecked((byte)~AtaControl.HighOrderByte);
        switch (offset)
        {
            case AtaRegister.ErrorFeatures:
                _s.FeaturesPrevious = _s.Features;
                _s.Features = data;
                break;
            case AtaRegister.SectorCount:
                _s.SectorCountPrevious = _s.SectorCount;
                _s.SectorCount = data;
                break;
            case AtaRegister.LbaLow:
                _s.LbaLowPrevious = _s.LbaLow;
                _s.LbaLow = data;
                break;
            case AtaRegister.LbaMid:
                _s.LbaMidPrevious = _s.LbaMid;
                _s.LbaMid = data;
                break;
            case AtaRegister.LbaHigh:
                _s.LbaHighPrevious = _s.LbaHigh;
                _s.LbaHigh = data;
                break;
            case AtaRegister.Device:
                _s.Device = data;
                UpdateIrq(); // only the selected device drives INTRQ
                break;
            default:
                ExecuteCommand(data);
                break;
        }
    }

    /// <summary>A read of the Alternate Status register (the control block's port).</summary>
    public ulong ReadAlternateStatus() => HasDrives && Selected is AtaDisk drive ? CurrentStatus(drive) : 0UL;

    /// <summary>A write of the Device Control register: nIEN, SRST, HOB.</summary>
    public void WriteDeviceControl(byte value)
    {
        bool wasReset = InReset;
        _s.Control = (byte)(value & (AtaControl.InterruptDisable | AtaControl.SoftwareReset | AtaControl.HighOrderByte));
        if (!wasReset && InReset)
        {
            // SRST asserted: both devices abandon what they do and stay busy until it is released.
            EndTransfer();
            foreach (AtaDisk? drive in _drives)
            {
                if (drive is not null)
                {
                    drive.State.InterruptPending = false;
                }
            }
        }
        else if (wasReset && !InReset)
        {
            // SRST released: the reset completes at once; each device reports diagnostics passed and its signature.
            foreach (AtaDisk? drive in _drives)
            {
                if (drive is not null)
                {
                    drive.State.Status = AtaStatus.Idle;
                    drive.State.Error = AtaError.DiagnosticPassed;
                }
            }

            WriteSignature();
        }

        UpdateIrq();
    }

    // ---------------------------------------------------------------- bus master IDE (one channel's 8 bytes)

    /// <summary>Reads byte <paramref name="offset"/> (0-7) of the channel's bus-master registers.</summary>
    public byte ReadBusMaster(int offset) => offset switch
    {
        0 => _s.BusMasterCommand,
        2 => _s.BusMasterStatus,
        >= 4 and < 8 => (byte)(_s.PrdTableAddress >> (8 * (offset - 4))),
        _ => 0,
    };

    /// <summary>Writes byte <paramref name="offset"/> (0-7) of the channel's bus-master registers.</summary>
    public void WriteBusMaster(int offset, byte value)
    {
        switch (offset)
        {
            case 0:
                WriteBusMasterCommand(value);
                break;
            case 2:
                // Error and interrupt are write-1-to-clear; the drive-capable bits are plain storage; active is read-only.
                byte status = (byte)(_s.BusMasterStatus & ~(value & (BusMasterError | BusMasterInterrupt)));
                _s.BusMasterStatus = (byte)((status & ~BusMasterDriveCapable) | (value & BusMasterDriveCapable));
                break;
            case >= 4 and < 8:
                int shift = 8 * (offset - 4);
                uint address = (_s.PrdTableAddress & ~(0xFFu << shift)) | ((uint)value << shift);
                _s.PrdTableAddress = address & ~3u; // the table is dword-aligned
                break;
        }
    }

    private void WriteBusMasterCommand(byte value)
    {
        bool wasStarted = (_s.BusMasterCommand & BusMasterStart) != 0;
        _s.BusMasterCommand = (byte)(value & (BusMasterStart | BusMasterToMemory));
        bool started = (value & BusMasterStart) != 0;
        if (started && !wasStarted)
        {
            _s.BusMasterStatus |= BusMasterActive;
            if (_s.Transfer == IdeTransfer.DmaPending)
            {
                RunDma();
            }
        }
        else if (!started)
        {
            // Stopping the engine abandons a transfer in progress (the drive keeps its command pending).
            _s.BusMasterStatus &= unchecked((byte)~BusMasterActive);
        }
    }

    // ---------------------------------------------------------------- commands

    private void ExecuteCommand(byte command)
    {
        if (Selected is not AtaDisk drive)
        {
            if (command == AtaCommand.ExecuteDeviceDiagnostic && HasDrives)
            {
                ExecuteDiagnostic();
            }

            return; // an absent device ignores commands
        }

        EndTransfer();
        drive.State.InterruptPending = false;
        drive.State.Error = 0;
        _s.Command = command;
        _s.ActiveDrive = SelectedIndex;

        switch (command)
        {
            case AtaCommand.IdentifyDevice:
                drive.WriteIdentify(_s.Buffer);
                BeginPioIn(drive, lba: 0, sectors: 0, blockSectors: 1, preloaded: true);
                break;

            case AtaCommand.ReadSectors or AtaCommand.ReadSectorsNoRetry:
                StartPio(drive, lba48: false, write: false, blockSectors: 1);
                break;
            case AtaCommand.ReadSectorsExt:
                StartPio(drive, lba48: true, write: false, blockSectors: 1);
                break;
            case AtaCommand.WriteSectors or AtaCommand.WriteSectorsNoRetry:
                StartPio(drive, lba48: false, write: true, blockSectors: 1);
                break;
            case AtaCommand.WriteSectorsExt:
                StartPio(drive, lba48: true, write: true, blockSectors: 1);
                break;

            case AtaCommand.ReadMultiple or AtaCommand.ReadMultipleExt or AtaCommand.WriteMultiple or AtaCommand.WriteMultipleExt:
                if (drive.State.MultipleSectors == 0)
                {
                    Abort(drive);
                    break;
                }

                StartPio(
                    drive,
                    lba48: command is AtaCommand.ReadMultipleExt or AtaCommand.WriteMultipleExt,
                    write: command is AtaCommand.WriteMultiple or AtaCommand.WriteMultipleExt,
                    blockSectors: drive.State.MultipleSectors);
                break;

            case AtaCommand.ReadDma or AtaCommand.ReadDmaNoRetry:
                StartDma(drive, lba48: false, write: false);
                break;
            case AtaCommand.ReadDmaExt:
                StartDma(drive, lba48: true, write: false);
                break;
            case AtaCommand.WriteDma or AtaCommand.WriteDmaNoRetry:
                StartDma(drive, lba48: false, write: true);
                break;
            case AtaCommand.WriteDmaExt:
                StartDma(drive, lba48: true, write: true);
                break;

            case AtaCommand.ReadVerify or AtaCommand.ReadVerifyNoRetry or AtaCommand.ReadVerifyExt:
                if (TryGetRange(drive, command == AtaCommand.ReadVerifyExt, out _, out _))
                {
                    Complete(drive);
                }

                break;

            case AtaCommand.SetMultipleMode:
                int count = _s.SectorCount;
                if (count > AtaDisk.MaxMultipleSectors || (count & (count - 1)) != 0)
                {
                    Abort(drive);
                    break;
                }

                drive.State.MultipleSectors = count; // 0 turns multiple mode off
                Complete(drive);
                break;

            case AtaCommand.SetFeatures:
                SetFeatures(drive);
                break;

            case AtaCommand.InitializeDeviceParameters:
                if (_s.SectorCount == 0)
                {
                    Abort(drive);
                    break;
                }

                drive.State.LogicalHeads = (_s.Device & 0x0F) + 1;
                drive.State.LogicalSectorsPerTrack = _s.SectorCount;
                Complete(drive);
                break;

            case AtaCommand.CheckPowerMode:
                _s.SectorCount = 0xFF; // active or idle
                Complete(drive);
                break;

            case AtaCommand.StandbyImmediate or AtaCommand.IdleImmediate or AtaCommand.Standby or AtaCommand.Idle:
                Complete(drive); // the disk never spins down
                break;

            case AtaCommand.FlushCache or AtaCommand.FlushCacheExt:
                if (drive.TryFlush())
                {
                    Complete(drive);
                }
                else
                {
                    Fail(drive, AtaError.Aborted);
                }

                break;

            case AtaCommand.ExecuteDeviceDiagnostic:
                ExecuteDiagnostic();
                break;

            case >= AtaCommand.Recalibrate and <= 0x1F:
            case >= AtaCommand.Seek and <= 0x7F:
                Complete(drive);
                break;

            default:
                // IDENTIFY PACKET DEVICE and DEVICE RESET (PACKET feature set, which a disk lacks) and anything unknown.
                Abort(drive);
                break;
        }
    }

    private void SetFeatures(AtaDisk drive)
    {
        switch (_s.Features)
        {
            case 0x03: // set transfer mode, from the sector count
                byte mode = _s.SectorCount;
                bool valid = mode is 0x00 or 0x01 || (mode >= 0x08 && mode <= 0x0C) || (mode >= 0x20 && mode <= 0x22) || (mode >= 0x40 && mode <= 0x45);
                if (!valid)
                {
                    Abort(drive);
                    return;
                }

                drive.State.TransferMode = mode;
                break;
            case 0x02:
                drive.State.WriteCacheEnabled = true;
                break;
            case 0x82:
                drive.State.WriteCacheEnabled = false;
                break;
            case 0x55 or 0xAA or 0x66 or 0xCC: // read look-ahead off/on, power-on defaults off/on: accepted, no effect
                break;
            default:
                Abort(drive);
                return;
        }

        Complete(drive);
    }

    private void ExecuteDiagnostic()
    {
        foreach (AtaDisk? d in _drives)
        {
            if (d is not null)
            {
                d.State.Status = AtaStatus.Idle;
                d.State.Error = AtaError.DiagnosticPassed;
            }
        }

        EndTransfer();
        WriteSignature();
        AtaDisk reporter = _drives[0] ?? _drives[1]!;
        RaiseInterrupt(reporter);
    }

    /// <summary>Decodes the command's address and sector count; fails the command (IDNF) when they leave the medium.</summary>
    private bool TryGetRange(AtaDisk drive, bool lba48, out ulong lba, out uint sectors)
    {
        bool valid = true;
        if (lba48)
        {
            lba = ((ulong)_s.LbaHighPrevious << 40) | ((ulong)_s.LbaMidPrevious << 32) | ((ulong)_s.LbaLowPrevious << 24)
                | ((ulong)_s.LbaHigh << 16) | ((ulong)_s.LbaMid << 8) | _s.LbaLow;
            sectors = (uint)((_s.SectorCountPrevious << 8) | _s.SectorCount);
            if (sectors == 0)
            {
                sectors = 65536;
            }
        }
        else
        {
            sectors = _s.SectorCount == 0 ? 256u : _s.SectorCount;
            if ((_s.Device & AtaDevice.Lba) != 0)
            {
                lba = ((ulong)(_s.Device & 0x0F) << 24) | ((ulong)_s.LbaHigh << 16) | ((ulong)_s.LbaMid << 8) | _s.LbaLow;
            }
            else
            {
                // CHS through the current translation (INITIALIZE DEVICE PARAMETERS).
                int cylinder = (_s.LbaHigh << 8) | _s.LbaMid;
                int head = _s.Device & 0x0F;
                int sector = _s.LbaLow;
                int heads = drive.State.LogicalHeads;
                int perTrack = drive.State.LogicalSectorsPerTrack;
                valid = sector >= 1 && sector <= perTrack && head < heads && cylinder < drive.LogicalCylinders;
                lba = valid ? ((((ulong)cylinder * (ulong)heads) + (ulong)head) * (ulong)perTrack) + (ulong)sector - 1 : 0;
            }
        }

        if (!valid || lba + sectors > drive.SectorCount)
        {
            Fail(drive, AtaError.IdNotFound);
            return false;
        }

        return true;
    }

    // ---------------------------------------------------------------- PIO

    private void StartPio(AtaDisk drive, bool lba48, bool write, int blockSectors)
    {
        if (!TryGetRange(drive, lba48, out ulong lba, out uint sectors))
        {
            return;
        }

        if (write)
        {
            _s.NextLba = lba;
            _s.RemainingSectors = sectors;
            _s.BlockSectors = blockSectors;
            _s.Transfer = IdeTransfer.PioOut;
            NextWriteBlock(drive);
            drive.State.Status = AtaStatus.Idle | AtaStatus.DataRequest; // the first block raises no interrupt
        }
        else
        {
            BeginPioIn(drive, lba, sectors, blockSectors, preloaded: false);
        }
    }

    /// <summary>Starts a PIO-in data phase; <paramref name="preloaded"/> when the buffer already holds the one block (IDENTIFY).</summary>
    private void BeginPioIn(AtaDisk drive, ulong lba, uint sectors, int blockSectors, bool preloaded)
    {
        _s.Transfer = IdeTransfer.PioIn;
        _s.BlockSectors = blockSectors;
        if (preloaded)
        {
            _s.BufferPosition = 0;
            _s.BufferLength = AtaDisk.SectorSize;
            _s.RemainingSectors = 0;
            drive.State.Status = AtaStatus.Idle | AtaStatus.DataRequest;
            RaiseInterrupt(drive);
            return;
        }

        _s.NextLba = lba;
        _s.RemainingSectors = sectors;
        LoadReadBlock(drive);
    }

    /// <summary>Reads the next DRQ block from the medium and announces it (DRQ and an interrupt).</summary>
    private void LoadReadBlock(AtaDisk drive)
    {
        int n = (int)Math.Min((uint)_s.BlockSectors, _s.RemainingSectors);
        int bytes = n * AtaDisk.SectorSize;
        if (!drive.TryRead(checked((long)_s.NextLba * AtaDisk.SectorSize), _s.Buffer.AsSpan(0, bytes)))
        {
            FailAt(drive, AtaError.Uncorrectable, _s.NextLba);
            return;
        }

        _s.BufferPosition = 0;
        _s.BufferLength = bytes;
        _s.NextLba += (ulong)n;
        _s.RemainingSectors -= (uint)n;
        drive.State.Status = AtaStatus.Idle | AtaStatus.DataRequest;
        RaiseInterrupt(drive);
    }

    private void NextWriteBlock(AtaDisk drive)
    {
        int n = (int)Math.Min((uint)_s.BlockSectors, _s.RemainingSectors);
        _s.BufferPosition = 0;
        _s.BufferLength = n * AtaDisk.SectorSize;
        drive.State.Status = AtaStatus.Idle | AtaStatus.DataRequest;
    }

    private ulong ReadData(int size)
    {
        if (_s.Transfer != IdeTransfer.PioIn || _drives[_s.ActiveDrive] is not AtaDisk drive)
        {
            return 0;
        }

        int n = Math.Min(size, _s.BufferLength - _s.BufferPosition);
        ulong value = 0;
        for (int i = 0; i < n; i++)
        {
            value |= (ulong)_s.Buffer[_s.BufferPosition + i] << (8 * i);
        }

        _s.BufferPosition += n;
        if (_s.BufferPosition >= _s.BufferLength)
        {
            if (_s.RemainingSectors > 0)
            {
                LoadReadBlock(drive);
            }
            else
            {
                EndTransfer();
                drive.State.Status = AtaStatus.Idle; // the last block raises no interrupt
            }
        }

        return value;
    }

    private void WriteData(int size, ulong value)
    {
        if (_s.Transfer != IdeTransfer.PioOut || _drives[_s.ActiveDrive] is not AtaDisk drive)
        {
            return;
        }

        int n = Math.Min(size, _s.BufferLength - _s.BufferPosition);
        for (int i = 0; i < n; i++)
        {
            _s.Buffer[_s.BufferPosition + i] = (byte)(value >> (8 * i));
        }

        _s.BufferPosition += n;
        if (_s.BufferPosition < _s.BufferLength)
        {
            return;
        }

        int sectors = _s.BufferLength / AtaDisk.SectorSize;
        if (!drive.TryWrite(checked((long)_s.NextLba * AtaDisk.SectorSize), _s.Buffer.AsSpan(0, _s.BufferLength)))
        {
            FailAt(drive, AtaError.Aborted, _s.NextLba);
            return;
        }

        _s.NextLba += (ulong)sectors;
        _s.RemainingSectors -= (uint)sectors;
        if (_s.RemainingSectors > 0)
        {
            NextWriteBlock(drive);
        }
        else
        {
            EndTransfer();
            drive.State.Status = AtaStatus.Idle;
        }

        RaiseInterrupt(drive);
    }

    // ---------------------------------------------------------------- DMA

    private void StartDma(AtaDisk drive, bool lba48, bool write)
    {
        if (!TryGetRange(drive, lba48, out ulong lba, out uint sectors))
        {
            return;
        }

        _s.Command = write ? (lba48 ? AtaCommand.WriteDmaExt : AtaCommand.WriteDma) : (lba48 ? AtaCommand.ReadDmaExt : AtaCommand.ReadDma);
        _s.NextLba = lba;
        _s.RemainingSectors = sectors;
        _s.Transfer = IdeTransfer.DmaPending;
        drive.State.Status = AtaStatus.Idle | AtaStatus.DataRequest;
        if ((_s.BusMasterCommand & BusMasterStart) != 0)
        {
            RunDma();
        }
    }

    /// <summary>
    /// Walks the PRD table and moves the whole pending transfer between the medium and guest memory. Each entry
    /// is a 32-bit physical address, a 16-bit byte count (0 = 64 KiB) and bit 31 of the second dword marking the
    /// last entry. A refused bus-master access (outside the windows granted to the device, or bus mastering
    /// disabled), or a table shorter than the transfer, ends the command with ATA ERR/ABRT, the bus-master error
    /// bit and an interrupt.
    /// </summary>
    private void RunDma()
    {
        AtaDisk drive = _drives[_s.ActiveDrive]!;
        bool write = _s.Command is AtaCommand.WriteDma or AtaCommand.WriteDmaExt;
        long diskOffset = checked((long)_s.NextLba * AtaDisk.SectorSize);
        long remaining = (long)_s.RemainingSectors * AtaDisk.SectorSize;
        uint entryAddress = _s.PrdTableAddress;
        bool tableEnded = false;
        bool lastEntryFilled = false;
        Span<byte> entry = stackalloc byte[8];
        bool busOk = _config.BusMasterEnabled;

        while (busOk && remaining > 0)
        {
            if (tableEnded || !_context.DmaRead(entryAddress, entry))
            {
                busOk = false;
                break;
            }

            uint address = BinaryPrimitives.ReadUInt32LittleEndian(entry) & ~1u;
            uint control = BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]);
            int count = (int)(control & 0xFFFE);
            if (count == 0)
            {
                count = 0x1_0000;
            }

            tableEnded = (control & 0x8000_0000) != 0;
            entryAddress += 8;

            int n = (int)Math.Min(count, remaining);
            Span<byte> chunk = _dmaScratch.AsSpan(0, n);
            if (write)
            {
                if (!_context.DmaRead(address, chunk))
                {
                    busOk = false;
                    break;
                }

                if (!drive.TryWrite(diskOffset, chunk))
                {
                    FinishDma(drive, AtaError.Aborted, busError: false);
                    return;
                }
            }
            else
            {
                if (!drive.TryRead(diskOffset, chunk))
                {
                    FinishDma(drive, AtaError.Uncorrectable, busError: false);
                    return;
                }

                if (!_context.DmaWrite(address, chunk))
                {
                    busOk = false;
                    break;
                }
            }

            diskOffset += n;
            remaining -= n;
            lastEntryFilled = n == count;
        }

        if (!busOk)
        {
            _config.SetStatusBits(PciStatusReceivedMasterAbort);
            FinishDma(drive, AtaError.Aborted, busError: true);
            return;
        }

        // The engine stays active when the table describes more memory than the transfer needed.
        bool tableExhausted = tableEnded && lastEntryFilled;
        FinishDma(drive, error: 0, busError: false, stillActive: !tableExhausted);
    }

    private void FinishDma(AtaDisk drive, byte error, bool busError, bool stillActive = false)
    {
        EndTransfer();
        if (!stillActive)
        {
            _s.BusMasterStatus &= unchecked((byte)~BusMasterActive);
        }

        if (busError)
        {
            _s.BusMasterStatus |= BusMasterError;
        }

        if (error == 0)
        {
            drive.State.Status = AtaStatus.Idle;
            RaiseInterrupt(drive);
        }
        else
        {
            Fail(drive, error);
        }
    }

    // ---------------------------------------------------------------- completion, errors, interrupts

    private void Complete(AtaDisk drive)
    {
        drive.State.Status = AtaStatus.Idle;
        RaiseInterrupt(drive);
    }

    private void Abort(AtaDisk drive) => Fail(drive, AtaError.Aborted);

    private void Fail(AtaDisk drive, byte error)
    {
        EndTransfer();
        drive.State.Error = error;
        drive.State.Status = AtaStatus.Idle | AtaStatus.Error;
        RaiseInterrupt(drive);
    }

    /// <summary>Fails a transfer at sector <paramref name="lba"/> and reports that address in the task file.</summary>
    private void FailAt(AtaDisk drive, byte error, ulong lba)
    {
        _s.LbaLow = (byte)lba;
        _s.LbaMid = (byte)(lba >> 8);
        _s.LbaHigh = (byte)(lba >> 16);
        _s.LbaLowPrevious = (byte)(lba >> 24);
        _s.LbaMidPrevious = (byte)(lba >> 32);
        _s.LbaHighPrevious = (byte)(lba >> 40);
        Fail(drive, error);
    }

    private void EndTransfer()
    {
        _s.Transfer = IdeTransfer.None;
        _s.BufferPosition = _s.BufferLength = 0;
        _s.RemainingSectors = 0;
    }

    /// <summary>The reset signature of an ATA device: count 1, LBA 1/0/0, device 0.</summary>
    private void WriteSignature()
    {
        _s.SectorCount = 1;
        _s.LbaLow = 1;
        _s.LbaMid = 0;
        _s.LbaHigh = 0;
        _s.Device = 0;
    }

    private byte CurrentStatus(AtaDisk drive) => InReset ? AtaStatus.Busy : drive.State.Status;

    private void RaiseInterrupt(AtaDisk drive)
    {
        drive.State.InterruptPending = true;
        _s.BusMasterStatus |= BusMasterInterrupt; // the bus-master status latches every interrupt of the channel
        UpdateIrq();
    }

    /// <summary>INTRQ: the selected device's pending interrupt, unless nIEN or SRST is set.</summary>
    private void UpdateIrq()
    {
        bool level = !InReset
            && (_s.Control & AtaControl.InterruptDisable) == 0
            && Selected is AtaDisk drive
            && drive.State.InterruptPending;
        if (level != _s.IrqAsserted)
        {
            _s.IrqAsserted = level;
            _context.SetIrqLine(_irqLine, level);
        }
    }
}
