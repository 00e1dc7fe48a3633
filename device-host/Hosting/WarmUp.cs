using SplitEmu.DeviceHost.Common;
using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Timing;
using SplitEmu.Shared.Transport;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// Runs the serving path once on a private segment before a spare device process reports ready, so that a
/// restart that takes the spare does not pay for the runtime's first-call compilation on the guest's time.
/// </summary>
internal static class WarmUp
{
    /// <summary>Round trips made: enough for the tiered JIT to have compiled the path once.</summary>
    private const int RoundTrips = 200;

    public static void Run(OutputForwarder output)
    {
        using RingSegment cpuSide = RingSegment.Create("splitemu-warmup", new RingGeometry(8, 8, 8), epoch: 0);
        try
        {
            using RingSegment deviceSide = RingSegment.Open(cpuSide.Memory.DuplicateDescriptor(), TimeSpan.FromSeconds(1));
            cpuSide.Memory.Unlink();
            RingRequester requester = new(cpuSide, WaitSettings.Handoff);
            RingResponder responder = new(deviceSide, WaitSettings.Handoff);
            TestDevice device = new(new DeviceConfig { Id = "warmup", Type = TestDevice.TypeName }, new NullContext());
            using DeviceTimers timers = new(1, () => { }, MachineClock.Of(deviceSide));
            using DeviceServer server = new(responder, [device], ["warmup"], deviceSide, output, timers);
            long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency * 5;
            for (int i = 0; i < RoundTrips; i++)
            {
                RingMessage request = new() { Kind = i % 2 == 0 ? MessageKind.Read : MessageKind.Write, AccessSize = 4 };
                requester.Call(ref request, out _, deadline);
            }

            RingMessage save = new() { Kind = MessageKind.SaveState };
            requester.Call(ref save, out RingMessage saved, deadline);
            RingMessage restore = new() { Kind = MessageKind.RestoreState, Value = saved.Value };
            requester.Call(ref restore, out _, deadline);
        }
        finally
        {
            cpuSide.Memory.Unlink();
        }
    }

    private sealed class NullContext : IDeviceContext
    {
        public string DeviceId => "warmup";

        public MachineFacts Machine { get; } = new(RamBytes: 0);

        public long NowNanoseconds => 0;

        public void SetIrq(bool asserted)
        {
        }

        public void SetIrqLine(int line, bool asserted)
        {
        }

        public void SetTimer(long deadlineNanoseconds)
        {
        }

        public void CancelTimer()
        {
        }

        public void SetPulseTrain(int line, PulseTrain train)
        {
        }

        public void CancelPulseTrain(int line)
        {
        }

        public bool DmaRead(ulong address, Span<byte> destination) => false;

        public bool DmaWrite(ulong address, ReadOnlySpan<byte> source) => false;

        public void RequestMachineReset()
        {
        }

        public void RequestMachineExit(int exitCode, ulong guestValue)
        {
        }

        public void Output(ReadOnlySpan<byte> data)
        {
        }

        public void RequestMapChange(int region, MapChangeKind kind, ulong newBase = 0)
        {
        }
    }
}
