using System.Buffers.Binary;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.CpuHost.Platform;

/// <summary>
/// The i440FX PCI host bridge: configuration mechanism #1 (CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at 0xCFC-0xCFF)
/// and the bridge's own function 00:00.0. A configuration cycle for any other function becomes an ordinary
/// access to the <see cref="AddressSpaceKind.PciConfig"/> space, so a function's registers are served wherever
/// its device runs (inline or in a device process) and an absent function reads as all ones.
/// </summary>
/// <remarks>
/// The PAM and SMRAM registers are stored for the firmware to read back; their effect (shadow RAM read/write
/// enables) is not modelled: 0xC0000-0xFFFFF is always RAM. SeaBIOS copies itself there from the ROM at 4 GiB
/// and sees its own writes, which is all it needs.
/// </remarks>
public sealed class I440fxHostBridge : IDevice
{
    private const ushort AddressPort = 0xCF8;
    private const ushort DataPort = 0xCFC;
    private const int ResetControlOffset = 1; // 0xCF9, inside the address register's four ports
    private const uint EnableBit = 0x8000_0000;

    private readonly Func<ulong, int, ulong> _readConfig;
    private readonly Action<ulong, int, ulong> _writeConfig;
    private readonly Action _resetRequested;
    private readonly byte[] _config = new byte[256];
    private readonly bool[] _writable = new bool[256];
    private uint _address;

    /// <summary>The PIIX reset control register (0xCF9): read back as written, as Linux reads and modifies it.</summary>
    private byte _resetControl;

    /// <summary>A host bridge forwarding configuration cycles through <paramref name="readConfig"/>/<paramref name="writeConfig"/>.</summary>
    public I440fxHostBridge(DeviceConfig config, Func<ulong, int, ulong> readConfig, Action<ulong, int, ulong> writeConfig, Action resetRequested)
    {
        _ = config;
        _readConfig = readConfig;
        _writeConfig = writeConfig;
        _resetRequested = resetRequested;
        Regions =
        [
            new DeviceRegionInfo("config-address", AddressSpaceKind.Io, AddressPort, 4),
            new DeviceRegionInfo("config-data", AddressSpaceKind.Io, DataPort, 4),
        ];
        Reset();
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <inheritdoc/>
    public void Reset()
    {
        Array.Clear(_config);
        BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(0x00), 0x8086); // Intel
        BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(0x02), 0x1237); // 82441FX (i440FX)
        BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(0x04), 0x0006); // memory space + bus master
        BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(0x06), 0x0280); // medium DEVSEL, fast back-to-back
        _config[0x08] = 0x02; // revision
        // QEMU's subsystem ids: firmware built for QEMU (SeaBIOS's "Running on QEMU") checks them to trust fw_cfg.
        BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(0x2C), 0x1AF4);
        BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(0x2E), 0x1100);
        _config[0x0B] = 0x06; // bridge
        _config[0x0A] = 0x00; // host bridge
        for (int pam = 0x59; pam <= 0x5F; pam++)
        {
            _writable[pam] = true;
        }

        _writable[0x72] = true; // SMRAM control
        _writable[0x0D] = true; // latency timer
        _address = 0;
        _resetControl = 0;
    }

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size)
    {
        if (region == 0)
        {
            return (offset, size) switch
            {
                (0, 4) => _address,
                (ResetControlOffset, 1) => _resetControl,
                _ => ulong.MaxValue >> (64 - 8 * size),
            };
        }

        if ((_address & EnableBit) == 0)
        {
            return ulong.MaxValue >> (64 - 8 * size);
        }

        ulong target = Target(offset);
        return IsOwnFunction(target) ? ReadOwn((int)(target & 0xFF), size) : _readConfig(target, size);
    }

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value)
    {
        if (region == 0)
        {
            if (offset == 0 && size == 4)
            {
                _address = (uint)value & 0x80FF_FFFC;
            }
            else if (offset == ResetControlOffset && size == 1)
            {
                _resetControl = (byte)(value & 0x0E);
                if ((value & 0x04) != 0)
                {
                    _resetRequested(); // reset CPU: this machine has no reset yet, so it ends (see PlatformDevices)
                }
            }

            return;
        }

        if ((_address & EnableBit) == 0)
        {
            return;
        }

        ulong target = Target(offset);
        if (IsOwnFunction(target))
        {
            WriteOwn((int)(target & 0xFF), size, value);
        }
        else
        {
            _writeConfig(target, size, value);
        }
    }

    /// <summary>The PciConfig address of this cycle: bus/device/function/register from CONFIG_ADDRESS, byte lane from the port.</summary>
    private ulong Target(ulong dataOffset) => (_address & 0x00FF_FFFC) + (dataOffset & 3);

    private static bool IsOwnFunction(ulong target) => (target & 0xFFFF00) == PciConfigAddress.Of(0, 0, 0);

    private ulong ReadOwn(int register, int size)
    {
        ulong value = 0;
        for (int i = 0; i < size && register + i < _config.Length; i++)
        {
            value |= (ulong)_config[register + i] << (8 * i);
        }

        return value;
    }

    private void WriteOwn(int register, int size, ulong value)
    {
        for (int i = 0; i < size && register + i < _config.Length; i++)
        {
            if (_writable[register + i])
            {
                _config[register + i] = (byte)(value >> (8 * i));
            }
        }
    }
}
