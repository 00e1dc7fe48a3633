using SplitEmu.DeviceHost.Sdk;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>
/// A machine for unit tests of one device model: records what the device did (interrupt levels, output, map
/// changes, exit requests), lets the test set the clock and fire the timer, and gives it a byte array as guest
/// RAM for DMA.
/// </summary>
public sealed class FakeDeviceContext(string deviceId = "dev", int? irq = null, ulong ramBytes = 1 << 20) : IDeviceContext
{
    /// <summary>Guest RAM the device reaches by DMA.</summary>
    public byte[] Ram { get; } = new byte[ramBytes];

    /// <summary>Current level of each ISA line.</summary>
    public bool[] IrqLevels { get; } = new bool[16];

    /// <summary>Every level change, in order: (line, level).</summary>
    public List<(int Line, bool Level)> IrqChanges { get; } = [];

    /// <summary>Bytes the device output.</summary>
    public List<byte> OutputBytes { get; } = [];

    /// <summary>Map changes asked for.</summary>
    public List<(int Region, MapChangeKind Kind, ulong NewBase)> MapChanges { get; } = [];

    /// <summary>Exit requests.</summary>
    public List<(int ExitCode, ulong GuestValue)> Exits { get; } = [];

    /// <summary>DMA transfers refused (outside RAM).</summary>
    public int RefusedDma { get; private set; }

    /// <summary>The armed timer deadline, or null.</summary>
    public long? TimerDeadline { get; private set; }

    /// <summary>The clock; tests move it, and with <see cref="NanosecondsPerReading"/> it runs on by itself.</summary>
    public long NowNanoseconds
    {
        get
        {
            long now = _now;
            _now += NanosecondsPerReading;
            return now;
        }

        set => _now = value;
    }

    /// <summary>The machine time the access being handled was made at, when that is not now (a posted write handled late, a replayed access).</summary>
    public long? AccessAt { get; set; }

    /// <inheritdoc/>
    public long AccessNanoseconds => AccessAt is long at ? Math.Min(at, NowNanoseconds) : NowNanoseconds;

    /// <summary>How far the clock runs on after each reading, as the machine clock does between two accesses (0: stands still).</summary>
    public long NanosecondsPerReading { get; set; }

    private long _now;

    public string DeviceId => deviceId;

    public MachineFacts Machine { get; } = new(ramBytes);

    public void SetIrq(bool asserted)
    {
        if (irq is int line)
        {
            SetIrqLine(line, asserted);
        }
    }

    public void SetIrqLine(int line, bool asserted)
    {
        IrqLevels[line] = asserted;
        IrqChanges.Add((line, asserted));
    }

    public void RequestMachineExit(int exitCode, ulong guestValue) => Exits.Add((exitCode, guestValue));

    /// <summary>Machine resets the device asked for.</summary>
    public int ResetRequests { get; private set; }

    public void RequestMachineReset() => ResetRequests++;

    public void Output(ReadOnlySpan<byte> data) => OutputBytes.AddRange(data.ToArray());

    /// <summary>What <see cref="IDeviceContext.OutputBackedUp"/> says: a test backs the console up by setting it.</summary>
    public bool OutputBackedUp { get; set; }

    public void RequestMapChange(int region, MapChangeKind kind, ulong newBase = 0) => MapChanges.Add((region, kind, newBase));

    public void SetTimer(long deadlineNanoseconds) => TimerDeadline = deadlineNanoseconds;

    public void CancelTimer() => TimerDeadline = null;

    /// <summary>The pulse train of each line the device set one for (a cancelled one is removed).</summary>
    public Dictionary<int, PulseTrain> PulseTrains { get; } = [];

    /// <summary>Every pulse-train change, in order: (line, train; null when cancelled).</summary>
    public List<(int Line, PulseTrain? Train)> PulseTrainChanges { get; } = [];

    public void SetPulseTrain(int line, PulseTrain train)
    {
        PulseTrains[line] = train;
        PulseTrainChanges.Add((line, train));
    }

    public void CancelPulseTrain(int line)
    {
        PulseTrains.Remove(line);
        PulseTrainChanges.Add((line, null));
    }

    public bool DmaRead(ulong address, Span<byte> destination)
    {
        if (!Granted(address, destination.Length))
        {
            RefusedDma++;
            return false;
        }

        Ram.AsSpan((int)address, destination.Length).CopyTo(destination);
        return true;
    }

    public bool DmaWrite(ulong address, ReadOnlySpan<byte> source)
    {
        if (!Granted(address, source.Length))
        {
            RefusedDma++;
            return false;
        }

        source.CopyTo(Ram.AsSpan((int)address, source.Length));
        return true;
    }

    /// <summary>The machine's bounds rule, with all of this fake RAM granted.</summary>
    private bool Granted(ulong address, int length) =>
        Shared.Rpc.DmaWindows.Allow([new Shared.Rpc.DmaWindow(0, (ulong)Ram.Length)], (ulong)Ram.Length, address, (ulong)length);

    /// <summary>Moves the clock to <paramref name="now"/> and fires the timer if its deadline passed (as the host would).</summary>
    public void AdvanceTo(long now, ITimedDevice device)
    {
        NowNanoseconds = now;
        while (TimerDeadline is long deadline && deadline <= NowNanoseconds)
        {
            TimerDeadline = null;
            device.OnTimer(NowNanoseconds);
        }
    }
}
