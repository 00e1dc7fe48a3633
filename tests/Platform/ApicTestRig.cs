using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Platform;

namespace SplitEmu.Tests.Platform;

/// <summary>A vCPU as its APIC sees it: counts what the APIC asked of it (thread-safe).</summary>
internal sealed class FakeApicCpu : IApicCpu
{
    private readonly Lock _lock = new();
    private readonly List<byte> _startups = [];
    private int _interruptNotifications;
    private int _nmis;
    private int _inits;

    public int InterruptNotifications => Volatile.Read(ref _interruptNotifications);

    public int Nmis => Volatile.Read(ref _nmis);

    public int Inits => Volatile.Read(ref _inits);

    public byte[] Startups
    {
        get
        {
            lock (_lock)
                return [.. _startups];
        }
    }

    public void InterruptMayBePending() => Interlocked.Increment(ref _interruptNotifications);

    public void Nmi() => Interlocked.Increment(ref _nmis);

    public void Init() => Interlocked.Increment(ref _inits);

    public void Startup(byte vector)
    {
        lock (_lock)
            _startups.Add(vector);
    }
}

/// <summary>An 8259 stand-in: one request at a time, with the vector it answers and how often it was asked.</summary>
internal sealed class FakeExternalPic(byte vector) : IInterruptController
{
    public bool Requesting { get; set; }

    public int Acknowledges { get; private set; }

    public bool HasPendingInterrupt => Requesting;

    public byte AcknowledgeInterrupt()
    {
        Acknowledges++;
        Requesting = false;
        return vector;
    }
}

/// <summary>A bus with <c>count</c> local APICs on a clock the test moves by hand.</summary>
internal sealed class ApicRig
{
    /// <summary>SVR with the APIC software-enabled and spurious vector 0xFF, as Linux programs it.</summary>
    public const uint SvrEnabled = 0x1FF;

    public ApicRig(int count)
    {
        Bus = new ApicBus(() => Now);
        Cpus = new FakeApicCpu[count];
        Apics = new LocalApic[count];
        for (int i = 0; i < count; i++)
        {
            Cpus[i] = new FakeApicCpu();
            Apics[i] = Bus.AddLocalApic(Cpus[i]);
        }
    }

    /// <summary>The machine clock in nanoseconds.</summary>
    public long Now { get; set; }

    public ApicBus Bus { get; }

    public FakeApicCpu[] Cpus { get; }

    public LocalApic[] Apics { get; }

    /// <summary>Software-enables every APIC (SVR 0x1FF).</summary>
    public ApicRig Enabled()
    {
        foreach (LocalApic apic in Apics)
            apic.WriteRegister(LocalApic.Registers.Svr, SvrEnabled);
        return this;
    }

    /// <summary>Writes the ICR as a guest does: high dword (destination) first, then the low dword that sends.</summary>
    public static void SendIpi(LocalApic from, uint icrLow, byte destination = 0)
    {
        from.WriteRegister(LocalApic.Registers.IcrHigh, (uint)destination << 24);
        from.WriteRegister(LocalApic.Registers.IcrLow, icrLow);
    }

    /// <summary>Bit <paramref name="vector"/> of the 256-bit register (IRR, ISR or TMR) at <paramref name="baseOffset"/>.</summary>
    public static bool Bit(LocalApic apic, int baseOffset, int vector) =>
        (apic.ReadRegister(baseOffset + ((vector >> 5) << 4)) & (1u << (vector & 31))) != 0;
}
