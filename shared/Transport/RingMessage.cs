using System.Runtime.InteropServices;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// The payload of one ring slot: an access request, its reply, or an event. Fixed size, unmanaged,
/// no serialization on the hot path. Every field read from a ring written by a device process is
/// untrusted and checked by the reader.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public struct RingMessage
{
    /// <summary>Bytes of a message: a 64-byte slot less its 8-byte sequence word.</summary>
    public const int Size = 56;

    /// <summary>What the message is.</summary>
    [FieldOffset(0)] public MessageKind Kind;

    /// <summary>Access size in bytes (1, 2, 4 or 8).</summary>
    [FieldOffset(1)] public byte AccessSize;

    /// <summary><see cref="ReplyFlags"/> on replies, <see cref="EventFlags"/> on events, <see cref="RequestFlags"/> on requests.</summary>
    [FieldOffset(2)] public ushort Flags;

    /// <summary>Index of the device within its process (a process group serves several).</summary>
    [FieldOffset(4)] public ushort Device;

    /// <summary>Index of the region within its device.</summary>
    [FieldOffset(6)] public ushort Region;

    /// <summary>Offset of the access within the region; event argument for events.</summary>
    [FieldOffset(8)] public ulong Offset;

    /// <summary>Value written, or value read in a reply; event argument for events.</summary>
    [FieldOffset(16)] public ulong Value;

    /// <summary>Request number; a reply carries the tag of its request.</summary>
    [FieldOffset(24)] public ulong Tag;

    /// <summary>Access chain the request belongs to (guards against re-entry through DMA).</summary>
    [FieldOffset(32)] public ulong Chain;

    /// <summary>Spare argument for events; an access's machine time (<see cref="AccessTime"/>).</summary>
    [FieldOffset(40)] public ulong Argument0;

    /// <summary>Spare argument for events.</summary>
    [FieldOffset(48)] public ulong Argument1;
}

/// <summary>Message kinds of the three rings.</summary>
public enum MessageKind : byte
{
    /// <summary>An empty slot; never valid in a published slot.</summary>
    None = 0,

    /// <summary>Request: read <see cref="RingMessage.AccessSize"/> bytes; the device replies <see cref="ReadDone"/>.</summary>
    Read = 1,

    /// <summary>Request: write; the device replies <see cref="WriteDone"/>.</summary>
    Write = 2,

    /// <summary>Request: write with no reply. Handled in ring order, so a later read sees it done.</summary>
    PostedWrite = 3,

    /// <summary>Request: reply <see cref="BarrierDone"/> once every earlier request was handled.</summary>
    Barrier = 4,

    /// <summary>
    /// Request: device <see cref="RingMessage.Device"/>'s regions were removed from the map and drained; the
    /// device answers <see cref="ControlDone"/>. Any access to it after this is a broken invariant (and counted).
    /// </summary>
    RegionsGone = 5,

    /// <summary>Request: device <see cref="RingMessage.Device"/>'s regions are about to be mapped again; answer <see cref="ControlDone"/>.</summary>
    RegionsBack = 6,

    /// <summary>
    /// Request: write device <see cref="RingMessage.Device"/>'s state into the segment's state area; the device
    /// answers <see cref="StateSaved"/> with the length in <see cref="RingMessage.Value"/>, or
    /// <see cref="Failed"/> if it cannot (no snapshot support, too large).
    /// </summary>
    SaveState = 7,

    /// <summary>
    /// Request: restore device <see cref="RingMessage.Device"/> from the first <see cref="RingMessage.Value"/>
    /// bytes of the state area; answer <see cref="ControlDone"/> or <see cref="Failed"/>.
    /// </summary>
    RestoreState = 8,

    /// <summary>
    /// Request: device <see cref="RingMessage.Device"/> goes back to its power-on state (a machine reset:
    /// <c>IDevice.Reset</c>); answer <see cref="ControlDone"/>.
    /// </summary>
    ResetDevice = 10,

    /// <summary>
    /// Request, after a restart: which interrupt lines device <see cref="RingMessage.Device"/> holds asserted now (its
    /// snapshot's, changed by its replayed accesses); answer <see cref="ControlDone"/> with the mask (bit n = line n)
    /// in <see cref="RingMessage.Value"/>.
    /// </summary>
    ReportLines = 11,

    /// <summary>
    /// Request: console input for device <see cref="RingMessage.Device"/> (through region
    /// <see cref="RingMessage.Region"/>): <see cref="RingMessage.AccessSize"/> bytes (1-8), packed little-endian
    /// in <see cref="RingMessage.Value"/>. The device takes as many leading bytes as it has room for and answers
    /// <see cref="InputTaken"/>, or <see cref="Failed"/> if it takes no input. Journaled like an access, so a
    /// restarted device is given again exactly the bytes its predecessor took (docs/console.md).
    /// </summary>
    Input = 9,

    /// <summary>Reply to <see cref="Read"/>; <see cref="RingMessage.Value"/> holds the data.</summary>
    ReadDone = 16,

    /// <summary>Reply to <see cref="Write"/>.</summary>
    WriteDone = 17,

    /// <summary>Reply to <see cref="Barrier"/>.</summary>
    BarrierDone = 18,

    /// <summary>Reply: the device could not serve the request (unknown device or region); a bus error.</summary>
    Failed = 19,

    /// <summary>Reply to <see cref="RegionsGone"/>, <see cref="RegionsBack"/>, <see cref="RestoreState"/> and <see cref="ResetDevice"/>.</summary>
    ControlDone = 20,

    /// <summary>Reply to <see cref="SaveState"/>: <see cref="RingMessage.Value"/> bytes of state are in the state area.</summary>
    StateSaved = 21,

    /// <summary>
    /// Reply to <see cref="Input"/>: <see cref="RingMessage.Value"/> leading bytes were taken (0 when the device
    /// has no room). Untrusted: more than were offered is a protocol breach.
    /// </summary>
    InputTaken = 22,

    /// <summary>Event: interrupt line <see cref="RingMessage.Offset"/> is now at level <see cref="RingMessage.Value"/> (0 or 1).</summary>
    IrqLevel = 32,

    /// <summary>Event: the guest asked to end the machine with exit code <see cref="RingMessage.Value"/>.</summary>
    MachineExit = 33,

    /// <summary>
    /// Event: the device asks to change one of its own regions (<see cref="RingMessage.Device"/>,
    /// <see cref="RingMessage.Region"/>): <see cref="RingMessage.Value"/> is the <c>MapChangeKind</c>,
    /// <see cref="RingMessage.Offset"/> the new base for a move. Applied after the access in hand released its
    /// lease and before the guest's next instruction.
    /// </summary>
    MapChange = 34,

    /// <summary>
    /// Event: the device wrote <see cref="RingMessage.Value"/> bytes of guest RAM at <see cref="RingMessage.Offset"/>
    /// by DMA; the CPU drops decoded instructions from there before the guest runs them.
    /// </summary>
    DmaWritten = 35,

    /// <summary>Event: the guest asked to reset the machine (the keyboard controller's reset line).</summary>
    MachineReset = 36,

    /// <summary>
    /// Event: the machine is to pulse interrupt line <see cref="RingMessage.Offset"/> by itself at ticks
    /// <see cref="RingMessage.Value"/> + k * <see cref="RingMessage.Argument0"/> of a <see cref="RingMessage.Argument1"/>
    /// Hz clock (a pulse train; period 0: one pulse), replacing the line's earlier train.
    /// </summary>
    PulseTrain = 37,

    /// <summary>Event: the pulse train of interrupt line <see cref="RingMessage.Offset"/> stops.</summary>
    PulseTrainStop = 38,
}

/// <summary>Flags of an event.</summary>
[Flags]
public enum EventFlags : ushort
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>
    /// Raised by a handler while it served an access: the CPU thread waiting for that access applies it (after
    /// the access released its lease, before the guest's next instruction), never the event pump.
    /// </summary>
    DuringAccess = 1,
}

/// <summary>Flags of a reply.</summary>
[Flags]
public enum ReplyFlags : ushort
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>
    /// Events were put in the event ring since the previous reply (by this handler, an earlier posted write or a
    /// timer); the CPU applies them before the access completes, so the guest's next instruction sees their
    /// effect (interrupt levels, map changes, code a DMA replaced).
    /// </summary>
    EventsFirst = 1,

    /// <summary>
    /// The device did DMA since its last reply. Replaying such an access after a crash would move guest memory
    /// again as it is now (a WRITE DMA would copy today's buffer to disk), so the CPU snapshots the device right
    /// after it and the journal starts after the DMA.
    /// </summary>
    DidDma = 2,

    /// <summary>
    /// Since its last reply the device acted on state from outside the machine that its journal does not hold (its
    /// output's back-pressure: the console's reader lagged, or a timer looked whether it still did). A replay could
    /// not act the same, so the CPU snapshots the device right after, as after DMA, and the journal starts there.
    /// </summary>
    ActedOnOutsideState = 4,
}

/// <summary>Flags of a request.</summary>
[Flags]
public enum RequestFlags : ushort
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>
    /// A journaled access replayed to a restarted device. It re-does what its predecessor did, which saw its output
    /// flowing (an access that saw it backed up ended the journal, <see cref="ReplyFlags.ActedOnOutsideState"/>):
    /// the device is told its output flows, whatever its own backlog of replayed bytes the launcher already has.
    /// </summary>
    Replayed = 1,
}
