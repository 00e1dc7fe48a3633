namespace SplitEmu.DeviceHost.Devices.Storage;

/// <summary>Bits of the ATA Status register (ATA/ATAPI-7 volume 1, section 6.64 and 7.x).</summary>
internal static class AtaStatus
{
    /// <summary>BSY: the device owns the registers.</summary>
    public const byte Busy = 0x80;

    /// <summary>DRDY: the device accepts commands.</summary>
    public const byte Ready = 0x40;

    /// <summary>DF: device fault.</summary>
    public const byte DeviceFault = 0x20;

    /// <summary>DSC (obsolete "seek complete"; drives keep it set when idle).</summary>
    public const byte SeekComplete = 0x10;

    /// <summary>DRQ: ready to transfer a data block.</summary>
    public const byte DataRequest = 0x08;

    /// <summary>ERR: the Error register says what failed.</summary>
    public const byte Error = 0x01;

    /// <summary>An idle device that is ready.</summary>
    public const byte Idle = Ready | SeekComplete;
}

/// <summary>Bits of the ATA Error register.</summary>
internal static class AtaError
{
    /// <summary>ABRT: command aborted (unsupported, bad parameter, or a failed transfer).</summary>
    public const byte Aborted = 0x04;

    /// <summary>IDNF: the address is outside the medium.</summary>
    public const byte IdNotFound = 0x10;

    /// <summary>UNC: uncorrectable data error (the image file could not be read).</summary>
    public const byte Uncorrectable = 0x40;

    /// <summary>Diagnostic code after reset or EXECUTE DEVICE DIAGNOSTIC: device 0 passed, device 1 passed or absent.</summary>
    public const byte DiagnosticPassed = 0x01;
}

/// <summary>Bits of the Device Control register.</summary>
internal static class AtaControl
{
    /// <summary>nIEN: INTRQ is not driven.</summary>
    public const byte InterruptDisable = 0x02;

    /// <summary>SRST: software reset of both devices while set.</summary>
    public const byte SoftwareReset = 0x04;

    /// <summary>HOB: reads return the previous (high-order) byte of the LBA48 registers.</summary>
    public const byte HighOrderByte = 0x80;
}

/// <summary>Command codes (ATA/ATAPI-7 volume 1, chapter 6).</summary>
internal static class AtaCommand
{
    public const byte DeviceReset = 0x08;
    public const byte Recalibrate = 0x10;          // 0x10-0x1F
    public const byte ReadSectors = 0x20;
    public const byte ReadSectorsNoRetry = 0x21;
    public const byte ReadSectorsExt = 0x24;
    public const byte ReadDmaExt = 0x25;
    public const byte ReadMultipleExt = 0x29;
    public const byte WriteSectors = 0x30;
    public const byte WriteSectorsNoRetry = 0x31;
    public const byte WriteSectorsExt = 0x34;
    public const byte WriteDmaExt = 0x35;
    public const byte WriteMultipleExt = 0x39;
    public const byte ReadVerify = 0x40;
    public const byte ReadVerifyNoRetry = 0x41;
    public const byte ReadVerifyExt = 0x42;
    public const byte Seek = 0x70;                 // 0x70-0x7F
    public const byte ExecuteDeviceDiagnostic = 0x90;
    public const byte InitializeDeviceParameters = 0x91;
    public const byte IdentifyPacketDevice = 0xA1;
    public const byte ReadMultiple = 0xC4;
    public const byte WriteMultiple = 0xC5;
    public const byte SetMultipleMode = 0xC6;
    public const byte ReadDma = 0xC8;
    public const byte ReadDmaNoRetry = 0xC9;
    public const byte WriteDma = 0xCA;
    public const byte WriteDmaNoRetry = 0xCB;
    public const byte StandbyImmediate = 0xE0;
    public const byte IdleImmediate = 0xE1;
    public const byte Standby = 0xE2;
    public const byte Idle = 0xE3;
    public const byte CheckPowerMode = 0xE5;
    public const byte FlushCache = 0xE7;
    public const byte FlushCacheExt = 0xEA;
    public const byte IdentifyDevice = 0xEC;
    public const byte SetFeatures = 0xEF;
}

/// <summary>Offsets of the command block (0x1F0-0x1F7 on the primary channel).</summary>
internal static class AtaRegister
{
    public const int Data = 0;
    public const int ErrorFeatures = 1;
    public const int SectorCount = 2;
    public const int LbaLow = 3;
    public const int LbaMid = 4;
    public const int LbaHigh = 5;
    public const int Device = 6;
    public const int StatusCommand = 7;
}

/// <summary>Bits of the Device/Head register.</summary>
internal static class AtaDevice
{
    /// <summary>DEV: device 1 (slave) is selected.</summary>
    public const byte Slave = 0x10;

    /// <summary>LBA: the address registers hold an LBA, not a cylinder/head/sector.</summary>
    public const byte Lba = 0x40;
}
