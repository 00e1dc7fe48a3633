using SplitEmu.CpuHost.Cpu;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.CpuHost.Platform;

/// <summary>
/// The APIC bus of a machine: its local APICs (index = vCPU index = APIC ID at power-on), the I/O APICs that send
/// them messages and hear their EOIs, and the one 4 KiB register page at 0xFEE00000 that every processor sees as
/// its own APIC. As an <see cref="IDevice"/> it is that page; the machine maps it like any platform device.
/// </summary>
/// <remarks>
/// <para>
/// Which APIC an access to the page reaches: the one of the vCPU the calling thread runs, set by
/// <see cref="EnterVcpu"/> on each vCPU thread. An access from a thread that entered no vCPU of this bus (a test,
/// a monitor command, a thread that forgot) reaches the bootstrap processor's APIC, so a single-vCPU machine works
/// without calling it; device processes never reach the page (their DMA goes to guest RAM only). The device
/// contract says accesses come one at a time; this device takes them concurrently from every vCPU, each APIC
/// under its own lock.
/// </para>
/// <para>
/// Delivery (<see cref="Deliver"/>): fixed, NMI, INIT, start-up and ExtINT messages go to every matching APIC;
/// a lowest-priority message goes to one of the matching APICs that are software-enabled, the one with the lowest
/// arbitration priority (SDM figure 10-15), ties broken round robin from the one after the last winner (the P6 bus
/// rotates arbitration IDs in the same spirit; focus-processor checking is not modelled). Messages are delivered
/// one APIC at a time and no APIC lock is held between them, so two vCPUs sending to each other never deadlock;
/// a message is not atomic across its destinations (one may see it before another), as on a real bus.
/// </para>
/// </remarks>
public sealed class ApicBus : IDevice
{
    /// <summary>Size of the local APIC register page.</summary>
    public const ulong PageSize = 0x1000;

    /// <summary>Most local APICs: IDs 0-254 (0xFF is the physical broadcast).</summary>
    public const int MaxLocalApics = 255;

    /// <summary>The bus a thread has entered a vCPU of (<see cref="EnterVcpu"/>), or null.</summary>
    [ThreadStatic]
    private static ApicBus? s_currentBus;

    /// <summary>The index of the vCPU the thread runs on <see cref="s_currentBus"/>.</summary>
    [ThreadStatic]
    private static int s_currentIndex;

    private readonly Func<long> _clock;
    private readonly Lock _membershipLock = new();

    /// <summary>The local APICs by index; replaced (never changed in place) when one is added, read without a lock.</summary>
    private LocalApic[] _localApics = [];

    /// <summary>The I/O APICs that hear EOI broadcasts; replaced when one is attached, read without a lock.</summary>
    private IoApic[] _ioApics = [];

    /// <summary>Index after the last winner of a lowest-priority arbitration, where the next tie-break starts.</summary>
    private int _roundRobinStart;

    private IInterruptController? _externalInterruptSource;

    /// <summary>Creates an empty bus whose APIC timers run on <paramref name="clockNanoseconds"/> (the machine clock).</summary>
    public ApicBus(Func<long> clockNanoseconds)
    {
        ArgumentNullException.ThrowIfNull(clockNanoseconds);
        _clock = clockNanoseconds;
        // 32-bit registers at 16-byte strides; QEMU's APIC takes 1 to 4 bytes (an 8-byte access becomes two dwords,
        // and only the first reaches a register).
        Regions = [new DeviceRegionInfo("lapic", AddressSpaceKind.Memory, LocalApic.DefaultBase, PageSize, MinAccessSize: 1, MaxAccessSize: 4)];
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <summary>The local APICs, by vCPU index.</summary>
    public IReadOnlyList<LocalApic> LocalApics => Volatile.Read(ref _localApics);

    /// <summary>
    /// The 8259 pair, which answers the INTA cycle when a processor's LINT0 is ExtINT, an ExtINT message arrived, or its
    /// APIC is hardware-disabled. Its wake-up callback should reach the vCPU whose LINT0 takes it (the BSP's).
    /// </summary>
    public IInterruptController? ExternalInterruptSource
    {
        get => Volatile.Read(ref _externalInterruptSource);
        set => Volatile.Write(ref _externalInterruptSource, value);
    }

    /// <summary>
    /// Adds the local APIC of the next vCPU (index = <see cref="LocalApics"/>' count; index 0 is the bootstrap
    /// processor) in its power-on state. Add every vCPU's before the guest runs.
    /// </summary>
    /// <exception cref="InvalidOperationException">The bus already has <see cref="MaxLocalApics"/> APICs.</exception>
    public LocalApic AddLocalApic(IApicCpu cpu)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        lock (_membershipLock)
        {
            LocalApic[] current = _localApics;
            if (current.Length >= MaxLocalApics)
                throw new InvalidOperationException($"an APIC bus holds at most {MaxLocalApics} local APICs");
            var apic = new LocalApic(this, current.Length, cpu, _clock);
            Volatile.Write(ref _localApics, [.. current, apic]);
            return apic;
        }
    }

    /// <summary>
    /// Makes the calling thread the thread of vCPU <paramref name="index"/>: its accesses to the register page reach
    /// that vCPU's APIC. Each vCPU thread calls it once before running the guest.
    /// </summary>
    public void EnterVcpu(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        s_currentBus = this;
        s_currentIndex = index;
    }

    /// <summary>Undoes <see cref="EnterVcpu"/> on the calling thread.</summary>
    public static void LeaveVcpu() => s_currentBus = null;

    /// <summary>The APIC that the calling thread's accesses to the page reach (see the remarks), or null when there is none.</summary>
    public LocalApic? CurrentLocalApic
    {
        get
        {
            LocalApic[] apics = Volatile.Read(ref _localApics);
            int index = ReferenceEquals(s_currentBus, this) ? s_currentIndex : 0;
            return (uint)index < (uint)apics.Length ? apics[index] : null;
        }
    }

    /// <summary>
    /// Delivers <paramref name="message"/> from local APIC <paramref name="sourceIndex"/> (an ICR write) or from an I/O
    /// APIC (-1; its shorthand must be <see cref="ApicShorthand.None"/>). Any thread; the caller holds no APIC lock.
    /// </summary>
    public void Deliver(in ApicMessage message, int sourceIndex)
    {
        LocalApic[] apics = Volatile.Read(ref _localApics);
        if (message.Mode == ApicDeliveryMode.LowestPriority)
        {
            DeliverLowestPriority(apics, message, sourceIndex);
            return;
        }
        foreach (LocalApic apic in apics)
        {
            if (IsAddressed(apic, message, sourceIndex))
                apic.Accept(message);
        }
    }

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size) => CurrentLocalApic?.ReadMmio(offset, size) ?? 0;

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value) => CurrentLocalApic?.WriteMmio(offset, size, value);

    /// <summary>Every local APIC back to its power-on state (the I/O APICs are devices of their own).</summary>
    public void Reset()
    {
        foreach (LocalApic apic in Volatile.Read(ref _localApics))
            apic.Reset();
    }

    /// <summary>Registers <paramref name="ioApic"/> to hear EOI broadcasts; its constructor calls it.</summary>
    internal void AttachIoApic(IoApic ioApic)
    {
        lock (_membershipLock)
            Volatile.Write(ref _ioApics, [.. _ioApics, ioApic]);
    }

    /// <summary>An EOI for a level-triggered <paramref name="vector"/>: every I/O APIC clears Remote IRR of the entries that sent it.</summary>
    internal void BroadcastEndOfInterrupt(byte vector)
    {
        foreach (IoApic ioApic in Volatile.Read(ref _ioApics))
            ioApic.EndOfInterrupt(vector);
    }

    private static bool IsAddressed(LocalApic apic, in ApicMessage message, int sourceIndex) => message.Shorthand switch
    {
        ApicShorthand.Self => apic.Index == sourceIndex,
        ApicShorthand.AllIncludingSelf => true,
        ApicShorthand.AllExcludingSelf => apic.Index != sourceIndex,
        _ => apic.MatchesDestination(message),
    };

    private void DeliverLowestPriority(LocalApic[] apics, in ApicMessage message, int sourceIndex)
    {
        int count = apics.Length;
        if (count == 0)
            return;
        int start = (int)((uint)Volatile.Read(ref _roundRobinStart) % (uint)count);
        LocalApic? winner = null;
        int winnerPriority = int.MaxValue;
        for (int i = 0; i < count; i++)
        {
            LocalApic apic = apics[(start + i) % count];
            if (!IsAddressed(apic, message, sourceIndex))
                continue;
            int priority = apic.LowestPriorityCandidate();
            if (priority >= 0 && priority < winnerPriority)
            {
                winner = apic;
                winnerPriority = priority;
            }
        }
        if (winner is null)
            return;
        Volatile.Write(ref _roundRobinStart, winner.Index + 1);
        winner.Accept(message);
    }
}
