using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Guests;

/// <summary>
/// A multiprocessor guest: the bootstrap processor starts every application processor with INIT and start-up IPIs
/// through its local APIC (the MP specification's universal start-up algorithm), then all vCPUs at once hammer RAM
/// counters with LOCK'ed instructions, a counter guarded by an XCHG spinlock, and an I/O device (a <c>testdev</c>,
/// which counts its accesses). The bootstrap processor checks every counter at the end and reports through the
/// debug-exit port: <see cref="Success"/>, or a distinct code per failed check.
/// </summary>
/// <remarks>
/// Flat 32-bit protected mode, loaded and entered at <see cref="LoadAddress"/> with ESP = 0x200000; the application
/// processors start as <see cref="ApplicationProcessorStartup"/> says. Each vCPU finds its index in its local APIC ID
/// and its stack from that.
/// </remarks>
public static class SmpGuest
{
    /// <summary>Guest-physical address the image is loaded at and entered at.</summary>
    public const ulong LoadAddress = 0x0010_0000;

    /// <summary>The I/O base of the testdev the guest hammers.</summary>
    public const ushort DevicePort = 0x510;

    /// <summary>The debug-exit port.</summary>
    public const ushort DebugExitPort = 0x501;

    /// <summary>(<see cref="SmpDeviceUse.ReadsWhileItMovesItself"/>) where the device goes when it moves away.</summary>
    public const ushort AwayPort = 0x530;

    /// <summary>Every check passed.</summary>
    public const byte Success = 0x10;

    /// <summary>Not every application processor started in time.</summary>
    public const byte FailedStart = 0x31;

    /// <summary>Not every application processor finished in time.</summary>
    public const byte FailedFinish = 0x32;

    /// <summary>A LOCK INC counter (dword) is wrong.</summary>
    public const byte FailedLockInc = 0x33;

    /// <summary>A LOCK XADD counter is wrong.</summary>
    public const byte FailedXadd = 0x34;

    /// <summary>A LOCK ADD counter of a word is wrong.</summary>
    public const byte FailedWordAdd = 0x35;

    /// <summary>The counter incremented without LOCK inside an XCHG spinlock is wrong.</summary>
    public const byte FailedSpinlock = 0x36;

    /// <summary>A CMPXCHG retry loop's counter is wrong.</summary>
    public const byte FailedCmpxchg = 0x37;

    /// <summary>The device counted a different number of accesses than the vCPUs made.</summary>
    public const byte FailedDevice = 0x38;

    /// <summary>A vCPU found its APIC ID out of range or twice.</summary>
    public const byte FailedApicId = 0x39;

    /// <summary>(<see cref="SmpDeviceUse.ReadsWhileUnplugged"/>) no read found the device unplugged in time.</summary>
    public const byte FailedNoUnplugSeen = 0x3A;

    /// <summary>(<see cref="SmpDeviceUse.ReadsWhileUnplugged"/>) the device was not plugged back in time for the final count.</summary>
    public const byte FailedDeviceNeverBack = 0x3B;

    /// <summary>What an I/O read returns where no device is mapped (the ISA bus floats high).</summary>
    private const uint Unmapped = 0xFFFF_FFFF;

    private const uint ApicId = ApplicationProcessorStartup.ApicIdRegister;

    // Shared variables, one per 64-byte line, away from code.
    private const uint Variables = 0x0030_0000;
    private const uint Started = Variables + 0x00;
    private const uint Go = Variables + 0x40;
    private const uint Finished = Variables + 0x80;
    private const uint LockIncCounter = Variables + 0xC0;
    private const uint XaddCounter = Variables + 0x100;
    private const uint WordCounter = Variables + 0x140;
    private const uint SpinlockWord = Variables + 0x180;
    private const uint GuardedCounter = Variables + 0x1C0;
    private const uint CmpxchgCounter = Variables + 0x200;
    private const uint SeenIds = Variables + 0x240;
    private const uint DeviceHits = Variables + 0x280;
    private const uint DeviceMisses = Variables + 0x2C0;
    private const uint DeviceAway = Variables + 0x300;
    private const uint MoverWrites = Variables + 0x340;
    private const uint StacksTop = 0x0040_0000; // vCPU n's stack: 16 KiB below StacksTop - n * 16 KiB

    /// <summary>Spins a waiting vCPU makes before giving up (each a PAUSE); generous: vCPUs on a busy 2-core host.</summary>
    private const uint SpinLimit = 0x4000_0000;

    /// <summary>Device accesses per vCPU (a posted write and a read each round).</summary>
    public static int DeviceRounds(int iterations) => iterations / 8;

    /// <summary>
    /// Assembles the image for a machine of <paramref name="cpus"/> vCPUs, each doing <paramref name="iterations"/>
    /// rounds of every counter, using the device as <paramref name="deviceUse"/> says.
    /// </summary>
    public static byte[] Build(int cpus, int iterations, SmpDeviceUse deviceUse = SmpDeviceUse.PostedWriteAndRead)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cpus, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cpus, 8);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 8);

        return ApplicationProcessorStartup.Assemble(LoadAddress, (a, startup) => Emit(a, startup, cpus, iterations, deviceUse));
    }

    private static void Emit(Assembler a, ApplicationProcessorStartup startup, int cpus, int iterations, SmpDeviceUse deviceUse)
    {
        bool mayMiss = deviceUse is SmpDeviceUse.ReadsWhileUnplugged or SmpDeviceUse.ReadsWhileItMovesItself;
        bool bspMoves = deviceUse == SmpDeviceUse.ReadsWhileItMovesItself;
        uint total = (uint)(cpus * iterations);
        int deviceRounds = DeviceRounds(iterations);

        var work = a.CreateLabel("work");
        var fail = a.CreateLabel("fail");

        // --- bootstrap processor ---
        a.mov(esp, 0x0020_0000u);
        startup.StartApplicationProcessors(a);

        // Wait for every application processor to check in.
        WaitFor(a, Started, (uint)(cpus - 1), FailedStart, fail);

        a.mov(__dword_ptr[Go], 1u);
        a.call(work);

        // Wait for the others to finish.
        WaitFor(a, Finished, (uint)cpus, FailedFinish, fail);

        // Check the counters.
        a.mov(cl, FailedApicId);
        a.cmp(__dword_ptr[SeenIds], (uint)((1 << cpus) - 1));
        a.jne(fail);
        a.mov(cl, FailedLockInc);
        a.cmp(__dword_ptr[LockIncCounter], total);
        a.jne(fail);
        a.mov(cl, FailedXadd);
        a.cmp(__dword_ptr[XaddCounter], total * 3);
        a.jne(fail);
        a.mov(cl, FailedWordAdd);
        a.cmp(__word_ptr[WordCounter], (ushort)(total & 0xFFFF));
        a.jne(fail);
        a.mov(cl, FailedSpinlock);
        a.cmp(__dword_ptr[GuardedCounter], total);
        a.jne(fail);
        a.mov(cl, FailedCmpxchg);
        a.cmp(__dword_ptr[CmpxchgCounter], total);
        a.jne(fail);
        if (bspMoves)
        {
            // Bring the device home, then every access it counted is a read the vCPUs saw answered, one of the
            // bootstrap processor's moving writes, or this read.
            var home = a.CreateLabel();
            a.cmp(__dword_ptr[DeviceAway], 0);
            a.je(home);
            ToggleDevice(a);
            a.Label(ref home);
            a.mov(cl, FailedDevice);
            a.mov(dx, DevicePort);
            a.@in(eax, dx);
            a.mov(edx, __dword_ptr[DeviceHits]);
            a.add(edx, __dword_ptr[MoverWrites]);
            a.inc(edx);
            a.cmp(eax, edx);
            a.jne(fail);
        }
        else if (mayMiss)
        {
            // Wait until the device is plugged again; the read that finds it is counted like every hit before it.
            a.mov(cl, FailedDeviceNeverBack);
            a.mov(ebx, SpinLimit);
            var back = a.CreateLabel();
            var isBack = a.CreateLabel();
            a.mov(dx, DevicePort);
            a.Label(ref back);
            a.@in(eax, dx);
            a.cmp(eax, Unmapped);
            a.jne(isBack);
            a.pause();
            a.dec(ebx);
            a.jz(fail);
            a.jmp(back);
            a.Label(ref isBack);
            // Exactly the reads that answered reached the device: none while it was unplugged, none lost.
            a.mov(cl, FailedDevice);
            a.mov(edx, __dword_ptr[DeviceHits]);
            a.inc(edx);
            a.cmp(eax, edx);
            a.jne(fail);
        }
        else
        {
            // The device counted every access: two per round per vCPU, plus this read.
            a.mov(cl, FailedDevice);
            a.mov(dx, DevicePort);
            a.@in(eax, dx);
            a.cmp(eax, (uint)(cpus * deviceRounds * 2 + 1));
            a.jne(fail);
        }

        a.mov(cl, Success);

        a.Label(ref fail);
        a.mov(al, cl);
        a.mov(dx, DebugExitPort);
        a.@out(dx, al);
        var stop = a.CreateLabel();
        a.Label(ref stop);
        a.cli();
        a.hlt();
        a.jmp(stop);

        // --- application processors, from the start-up code in flat protected mode ---
        startup.ApplicationProcessorEntry(a, StacksTop);
        a.@lock.inc(__dword_ptr[Started]);
        var waitGo = a.CreateLabel();
        a.Label(ref waitGo);
        a.pause();
        a.cmp(__dword_ptr[Go], 0);
        a.je(waitGo);
        a.call(work);
        var parked = a.CreateLabel();
        a.Label(ref parked);
        a.cli();
        a.hlt();
        a.jmp(parked);

        // --- work: every counter, iterations times; then marks its APIC ID seen and counts itself finished ---
        a.Label(ref work);
        a.mov(eax, __dword_ptr[ApicId]);
        a.shr(eax, 24);
        a.mov(edi, eax); // this vCPU's index, for the rest of the routine
        a.@lock.bts(__dword_ptr[SeenIds], eax);
        a.mov(esi, (uint)iterations);
        var round = a.CreateLabel();
        var skipDevice = a.CreateLabel();
        var acquire = a.CreateLabel();
        var retry = a.CreateLabel();
        a.Label(ref round);
        a.@lock.inc(__dword_ptr[LockIncCounter]);
        a.mov(eax, 3u);
        a.@lock.xadd(__dword_ptr[XaddCounter], eax);
        a.@lock.add(__word_ptr[WordCounter], 1);
        // XCHG spinlock around a plain increment.
        a.Label(ref acquire);
        a.mov(eax, 1u);
        a.xchg(__dword_ptr[SpinlockWord], eax);
        a.test(eax, eax);
        var gotLock = a.CreateLabel();
        a.jz(gotLock);
        a.pause();
        a.jmp(acquire);
        a.Label(ref gotLock);
        a.mov(eax, __dword_ptr[GuardedCounter]);
        a.inc(eax);
        a.mov(__dword_ptr[GuardedCounter], eax);
        a.mov(__dword_ptr[SpinlockWord], 0u);
        // A CMPXCHG retry loop.
        a.mov(eax, __dword_ptr[CmpxchgCounter]);
        a.Label(ref retry);
        a.lea(edx, __[eax + 1]);
        a.@lock.cmpxchg(__dword_ptr[CmpxchgCounter], edx);
        a.jne(retry);
        // The device, every eighth round: a posted write and a read, or a read that may find it unplugged.
        a.test(esi, 7);
        a.jnz(skipDevice);
        if (mayMiss)
        {
            DeviceRoundThatMayMiss(a, bspMoves);
        }
        else
        {
            a.mov(dx, DevicePort);
            a.@out(dx, eax);
            a.mov(dx, DevicePort + 8);
            a.@in(eax, dx);
        }

        a.Label(ref skipDevice);
        a.dec(esi);
        a.jnz(round);
        if (mayMiss)
        {
            // Keep reading until some vCPU has found the device unplugged (the test unplugs and plugs it meanwhile).
            a.mov(ebx, SpinLimit);
            var untilMiss = a.CreateLabel();
            var missSeen = a.CreateLabel();
            a.Label(ref untilMiss);
            a.cmp(__dword_ptr[DeviceMisses], 0);
            a.jne(missSeen);
            DeviceRoundThatMayMiss(a, bspMoves);
            a.pause();
            a.dec(ebx);
            a.jnz(untilMiss);
            a.mov(cl, FailedNoUnplugSeen);
            a.jmp(fail);
            a.Label(ref missSeen);
        }

        a.@lock.inc(__dword_ptr[Finished]);
        a.ret();
    }

    /// <summary>
    /// One device round that may miss: a counted read, or with <paramref name="bspMoves"/> on the bootstrap processor
    /// (EDI = 0) a move of the device to its other port. Clobbers EAX, EDX. Ends without a label of its own.
    /// </summary>
    private static void DeviceRoundThatMayMiss(Assembler a, bool bspMoves)
    {
        if (!bspMoves)
        {
            CountedDeviceRead(a);
            return;
        }

        var read = a.CreateLabel();
        var done = a.CreateLabel();
        a.test(edi, edi);
        a.jnz(read);
        ToggleDevice(a);
        a.jmp(done);
        a.Label(ref read);
        CountedDeviceRead(a);
        a.Label(ref done);
        a.nop(); // the caller's label goes after this
    }

    /// <summary>
    /// The bootstrap processor moves the device between <see cref="DevicePort"/> and <see cref="AwayPort"/>: it writes
    /// the new base, then asks the device to move (the testdev's handler requests the map change itself, applied when
    /// that access ends, while the other vCPUs keep reading the old port). Counts its two writes. Clobbers EAX, EDX.
    /// </summary>
    private static void ToggleDevice(Assembler a)
    {
        var toAway = a.CreateLabel();
        var moved = a.CreateLabel();
        a.cmp(__dword_ptr[DeviceAway], 0);
        a.je(toAway);
        EmitMove(a, from: AwayPort, to: DevicePort);
        a.mov(__dword_ptr[DeviceAway], 0);
        a.jmp(moved);
        a.Label(ref toAway);
        EmitMove(a, from: DevicePort, to: AwayPort);
        a.mov(__dword_ptr[DeviceAway], 1);
        a.Label(ref moved);
        a.add(__dword_ptr[MoverWrites], 2); // only the bootstrap processor writes it
    }

    private static void EmitMove(Assembler a, ushort from, ushort to)
    {
        a.mov(dx, (ushort)(from + 8)); // the testdev's new-base register
        a.mov(eax, (uint)to);
        a.@out(dx, eax);
        a.mov(dx, (ushort)(from + 4)); // its map-change register: 1 = move
        a.mov(eax, 1u);
        a.@out(dx, eax);
    }

    /// <summary>Reads the device's access count: a hit (the device answered) or a miss (unplugged) is counted. Clobbers EAX, EDX.</summary>
    private static void CountedDeviceRead(Assembler a)
    {
        // Without branches, so the caller may put a label right after it.
        a.mov(dx, DevicePort);
        a.@in(eax, dx);
        a.xor(edx, edx);
        a.cmp(eax, Unmapped);
        a.sete(dl);
        a.@lock.add(__dword_ptr[DeviceMisses], edx);
        a.xor(dl, 1);
        a.@lock.add(__dword_ptr[DeviceHits], edx);
    }

    /// <summary>
    /// Spins (with PAUSE) until the dword at <paramref name="variable"/> equals <paramref name="value"/>; after
    /// <see cref="SpinLimit"/> spins it goes to <paramref name="fail"/> with <paramref name="failure"/> in CL.
    /// Clobbers CL and EDX.
    /// </summary>
    private static void WaitFor(Assembler a, uint variable, uint value, byte failure, Label fail)
    {
        a.mov(cl, failure);
        a.mov(edx, SpinLimit);
        var again = a.CreateLabel();
        var done = a.CreateLabel();
        a.Label(ref again);
        a.cmp(__dword_ptr[variable], value);
        a.je(done);
        a.pause();
        a.dec(edx);
        a.jz(fail);
        a.jmp(again);
        a.Label(ref done);
    }
}

/// <summary>How the <see cref="SmpGuest"/> uses its testdev.</summary>
public enum SmpDeviceUse
{
    /// <summary>Every eighth round a posted write and a read; the device's final count must be exact.</summary>
    PostedWriteAndRead,

    /// <summary>
    /// Every eighth round a read that may find the device unplugged (all ones); the vCPUs count hits and misses,
    /// keep reading until some read missed, and the device's final count must equal the hits.
    /// </summary>
    ReadsWhileUnplugged,

    /// <summary>
    /// As <see cref="ReadsWhileUnplugged"/>, but nobody outside unplugs the device: the bootstrap processor, every
    /// eighth round, has the device move itself between its port and <see cref="SmpGuest.AwayPort"/> from inside its
    /// own handler (the in-handler map change of the memory-map design) while the other vCPUs read the home port.
    /// The final count must equal the reads that answered plus the moving writes.
    /// </summary>
    ReadsWhileItMovesItself,
}
