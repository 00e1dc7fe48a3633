using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.CpuHost.Platform;

/// <summary>
/// An 82093AA-style I/O APIC with 24 input pins: IOREGSEL at offset 0x00 and IOWIN at 0x10 of a 4 KiB region at
/// 0xFEC00000, the ID, version (0x00170011) and arbitration registers, and 24 redirection entries that turn pin
/// activity into messages on the <see cref="ApicBus"/>.
/// </summary>
/// <remarks>
/// <para>
/// Version 0x11, as the 82093AA and QEMU's default: it has no EOI register (the version 0x20 one at offset 0x40).
/// Level-triggered entries are released by the local APICs' EOI broadcast (their TMR bit is set), the way Linux
/// drives every I/O APIC; and, as on the 82093AA, by switching the entry to edge-triggered, which Linux's
/// pre-0x20 path does to clear a stuck Remote IRR.
/// </para>
/// <para>
/// Pins: <see cref="SetLine"/> takes the logical state of the line (asserted or not); the polarity bit is stored for
/// the guest and not applied, as in QEMU (the wire's electrical level is the machine's business). An edge-triggered
/// entry sends one message per rising edge; an edge on a masked pin is dropped (82093AA data sheet: "not delivered or
/// held pending"). A level-triggered entry sends when its line is asserted, it is unmasked and Remote IRR is clear,
/// then sets Remote IRR; an EOI of its vector clears Remote IRR and sends again if the line is still asserted.
/// Unmasking a level entry whose line is asserted sends. Which pin an ISA IRQ drives (IRQ 0 on pin 2 as an MP table
/// override says, the rest on their own number) is the machine's choice.
/// </para>
/// <para>
/// Delivery modes fixed, lowest priority, NMI, INIT and ExtINT are sent (SMI and the reserved modes are dropped);
/// only fixed and lowest-priority entries use Remote IRR, the others act as edge-triggered whatever their trigger bit.
/// The delivery status bit reads idle: delivery is immediate. Register 0x00 keeps a 4-bit ID (bits 24-27) that
/// register 0x02 (arbitration) echoes.
/// </para>
/// <para>
/// Threads: <see cref="SetLine"/>, the register accesses and EOIs may come from any thread at once; all state is
/// under one lock, and messages are sent to the local APICs after it is released.
/// </para>
/// </remarks>
public sealed class IoApic : IDevice
{
    /// <summary>Base address of the register region on a PC.</summary>
    public const ulong DefaultBase = 0xFEC0_0000;

    /// <summary>Size of the register region (QEMU's).</summary>
    public const ulong RegionSize = 0x1000;

    /// <summary>Number of input pins and redirection entries.</summary>
    public const int PinCount = 24;

    /// <summary>Register 0x01: version 0x11, highest redirection entry 23.</summary>
    public const uint Version = ((PinCount - 1) << 16) | 0x11;

    /// <summary>Offset of IOREGSEL, which selects the register IOWIN reaches.</summary>
    public const ulong RegisterSelectOffset = 0x00;

    /// <summary>Offset of IOWIN, the 32-bit window onto the selected register.</summary>
    public const ulong WindowOffset = 0x10;

    /// <summary>Indirect register index of the ID register.</summary>
    public const byte IdRegister = 0x00;

    /// <summary>Indirect register index of the version register.</summary>
    public const byte VersionRegister = 0x01;

    /// <summary>Indirect register index of the arbitration ID register.</summary>
    public const byte ArbitrationRegister = 0x02;

    /// <summary>Indirect register index of the low dword of redirection entry 0 (entry n: 0x10 + 2n low, 0x11 + 2n high).</summary>
    public const byte RedirectionTableBase = 0x10;

    /// <summary>Redirection entry bit 14: Remote IRR (read-only).</summary>
    public const ulong RemoteIrr = 1 << 14;

    /// <summary>Redirection entry bit 15: level-triggered.</summary>
    public const ulong LevelTriggered = 1 << 15;

    /// <summary>Redirection entry bit 16: masked.</summary>
    public const ulong Masked = 1 << 16;

    /// <summary>Bits of an entry's low dword the guest writes: vector, delivery mode, destination mode, polarity, trigger, mask.</summary>
    private const ulong LowWritable = 0x1AFFF;

    /// <summary>Bits of an entry's high dword the guest writes: the destination (bits 56-63 of the entry).</summary>
    private const ulong HighWritable = 0xFF00_0000;

    private readonly Lock _lock = new();
    private readonly ApicBus _bus;
    private readonly byte _resetId;
    private readonly ulong[] _entries = new ulong[PinCount];

    /// <summary>ID register bits 24-27.</summary>
    private byte _id;

    /// <summary>IOREGSEL.</summary>
    private byte _select;

    /// <summary>Asserted pins, bit per pin.</summary>
    private uint _lines;

    /// <summary>
    /// Creates the I/O APIC with APIC ID <paramref name="id"/> (0-15; the MP table must name the same) on
    /// <paramref name="bus"/>, in its power-on state (every entry masked), and attaches it to hear the bus's EOIs.
    /// </summary>
    public IoApic(ApicBus bus, byte id)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(id, (byte)15);
        _bus = bus;
        _resetId = id;
        // QEMU's ioapic region takes 1 to 4 bytes too; the registers are dwords, and IOREGSEL's index is its low byte.
        Regions = [new DeviceRegionInfo("ioapic", AddressSpaceKind.Memory, DefaultBase, RegionSize, MinAccessSize: 1, MaxAccessSize: 4)];
        ResetUnsynchronized();
        bus.AttachIoApic(this);
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <summary>Drives input pin <paramref name="pin"/> (0-23) to <paramref name="asserted"/>; other pins are ignored. Any thread.</summary>
    public void SetLine(int pin, bool asserted)
    {
        if ((uint)pin >= PinCount)
            return;
        ApicMessage message = default;
        bool send = false;
        lock (_lock)
        {
            uint bit = 1u << pin;
            bool wasAsserted = (_lines & bit) != 0;
            _lines = asserted ? _lines | bit : _lines & ~bit;
            ulong entry = _entries[pin];
            if (UsesRemoteIrr(entry))
                send = TrySendLevelUnsynchronized(pin, out message);
            else if (asserted && !wasAsserted && (entry & Masked) == 0)
                send = TryBuildMessage(entry, out message);
        }
        if (send)
            _bus.Deliver(message, -1);
    }

    /// <summary>The 64-bit redirection entry of <paramref name="pin"/>, Remote IRR included (for tests and the monitor).</summary>
    public ulong RedirectionEntry(int pin)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pin);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(pin, PinCount);
        lock (_lock)
            return _entries[pin];
    }

    /// <summary>
    /// A local APIC ended level-triggered <paramref name="vector"/> (the bus's EOI broadcast): the entries that sent it
    /// clear Remote IRR, and those whose line is still asserted send again. Any thread.
    /// </summary>
    public void EndOfInterrupt(byte vector)
    {
        Span<ApicMessage> messages = stackalloc ApicMessage[PinCount];
        int count = 0;
        lock (_lock)
        {
            for (int pin = 0; pin < PinCount; pin++)
            {
                ulong entry = _entries[pin];
                if ((entry & RemoteIrr) == 0 || (byte)entry != vector)
                    continue;
                _entries[pin] = entry & ~RemoteIrr;
                if (TrySendLevelUnsynchronized(pin, out ApicMessage message))
                    messages[count++] = message;
            }
        }
        foreach (ApicMessage message in messages[..count])
            _bus.Deliver(message, -1);
    }

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size)
    {
        int within = (int)(offset & 0xF);
        if (size <= 0 || within >= 4)
            return 0;
        uint value;
        lock (_lock)
        {
            value = (offset & ~0xFUL) switch
            {
                RegisterSelectOffset => _select,
                WindowOffset => ReadIndirectUnsynchronized(_select),
                _ => 0,
            };
        }
        value >>= 8 * within;
        int bytes = Math.Min(size, 4 - within);
        return bytes >= 4 ? value : value & ((1u << (8 * bytes)) - 1);
    }

    /// <inheritdoc/>
    /// <remarks>IOREGSEL takes a write of any size at offset 0 (its low byte is the index); IOWIN takes 32-bit writes only.</remarks>
    public void Write(int region, ulong offset, int size, ulong value)
    {
        ApicMessage message = default;
        bool send = false;
        lock (_lock)
        {
            if (offset == RegisterSelectOffset)
                _select = (byte)value;
            else if (offset == WindowOffset && size == 4)
                send = WriteIndirectUnsynchronized(_select, (uint)value, out message);
        }
        if (send)
            _bus.Deliver(message, -1);
    }

    /// <inheritdoc/>
    /// <remarks>Every entry masked and cleared, ID back to the constructor's; the lines keep their levels (they are wires).</remarks>
    public void Reset()
    {
        lock (_lock)
            ResetUnsynchronized();
    }

    private void ResetUnsynchronized()
    {
        _id = _resetId;
        _select = 0;
        for (int pin = 0; pin < PinCount; pin++)
            _entries[pin] = Masked;
    }

    private uint ReadIndirectUnsynchronized(byte index)
    {
        switch (index)
        {
            case IdRegister:
            case ArbitrationRegister:
                return (uint)_id << 24;
            case VersionRegister:
                return Version;
            case >= RedirectionTableBase and < RedirectionTableBase + (2 * PinCount):
                ulong entry = _entries[(index - RedirectionTableBase) >> 1];
                return (index & 1) == 0 ? (uint)entry : (uint)(entry >> 32);
            default:
                return 0;
        }
    }

    /// <summary>Writes an indirect register; true, with the message, when the write makes a level entry send.</summary>
    private bool WriteIndirectUnsynchronized(byte index, uint value, out ApicMessage message)
    {
        message = default;
        if (index == IdRegister)
        {
            _id = (byte)((value >> 24) & 0xF);
            return false;
        }
        if (index is < RedirectionTableBase or >= RedirectionTableBase + (2 * PinCount))
            return false; // version, arbitration and unused registers are read-only
        int pin = (index - RedirectionTableBase) >> 1;
        ulong entry = _entries[pin];
        if ((index & 1) != 0)
        {
            _entries[pin] = (entry & ~(HighWritable << 32)) | (((ulong)value & HighWritable) << 32);
            return false;
        }
        entry = (entry & ~LowWritable) | (value & LowWritable);
        if ((entry & LevelTriggered) == 0)
            entry &= ~RemoteIrr; // switching to edge releases Remote IRR (the 82093AA's, and Linux's way to clear it)
        _entries[pin] = entry;
        return UsesRemoteIrr(entry) && TrySendLevelUnsynchronized(pin, out message);
    }

    /// <summary>A level entry sends when its line is asserted, it is unmasked and Remote IRR is clear; it then sets Remote IRR.</summary>
    private bool TrySendLevelUnsynchronized(int pin, out ApicMessage message)
    {
        message = default;
        ulong entry = _entries[pin];
        if ((_lines & (1u << pin)) == 0 || (entry & (Masked | RemoteIrr)) != 0)
            return false;
        if (!TryBuildMessage(entry, out message))
            return false;
        _entries[pin] = entry | RemoteIrr;
        return true;
    }

    /// <summary>Whether the entry is a level-triggered fixed or lowest-priority one, which uses Remote IRR.</summary>
    private static bool UsesRemoteIrr(ulong entry) =>
        (entry & LevelTriggered) != 0 && (ApicDeliveryMode)((entry >> 8) & 7) is ApicDeliveryMode.Fixed or ApicDeliveryMode.LowestPriority;

    private static bool TryBuildMessage(ulong entry, out ApicMessage message)
    {
        var mode = (ApicDeliveryMode)((entry >> 8) & 7);
        message = new ApicMessage(mode, (byte)entry, Logical: (entry & (1 << 11)) != 0, Destination: (byte)(entry >> 56),
            LevelTriggered: UsesRemoteIrr(entry));
        return mode is ApicDeliveryMode.Fixed or ApicDeliveryMode.LowestPriority or ApicDeliveryMode.Nmi
            or ApicDeliveryMode.Init or ApicDeliveryMode.ExtInt;
    }
}
