using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices.Legacy;

/// <summary>A host wall clock the test sets.</summary>
internal sealed class SettableTimeProvider(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>
/// A <see cref="FakeDeviceContext"/> that reports other machine facts than its RAM array (a 4000 MiB machine
/// without allocating 4000 MiB).
/// </summary>
internal sealed class MachineFactsContext(MachineFacts machine) : IDeviceContext
{
    public FakeDeviceContext Inner { get; } = new();

    public string DeviceId => Inner.DeviceId;

    public MachineFacts Machine => machine;

    public long NowNanoseconds => Inner.NowNanoseconds;

    public void SetIrq(bool asserted) => Inner.SetIrq(asserted);

    public void SetIrqLine(int line, bool asserted) => Inner.SetIrqLine(line, asserted);

    public void RequestMachineExit(int exitCode, ulong guestValue) => Inner.RequestMachineExit(exitCode, guestValue);

    public void RequestMachineReset() => Inner.RequestMachineReset();

    public void Output(ReadOnlySpan<byte> data) => Inner.Output(data);

    public void RequestMapChange(int region, MapChangeKind kind, ulong newBase = 0) => Inner.RequestMapChange(region, kind, newBase);

    public void SetTimer(long deadlineNanoseconds) => Inner.SetTimer(deadlineNanoseconds);

    public void CancelTimer() => Inner.CancelTimer();

    public void SetPulseTrain(int line, PulseTrain train) => Inner.SetPulseTrain(line, train);

    public void CancelPulseTrain(int line) => Inner.CancelPulseTrain(line);

    public bool DmaRead(ulong address, Span<byte> destination) => Inner.DmaRead(address, destination);

    public bool DmaWrite(ulong address, ReadOnlySpan<byte> source) => Inner.DmaWrite(address, source);
}
