using System.Diagnostics;
using SplitEmu.DeviceHost.Common;
using SplitEmu.DeviceHost.Hosting;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Timing;
using SplitEmu.Shared.Transport;
using SplitEmu.Tests.Infrastructure;
using StreamJsonRpc;

namespace SplitEmu.Tests.Devices.Contract;

/// <summary>
/// The device contract for a model placed in a device process: its <see cref="DeviceServer"/> serves it over a
/// real shared-memory ring (both mappings in this process, as <see cref="TestSegment"/> makes them), and the
/// test sends the ring messages the CPU process sends. Also the snapshot, which only this placement takes.
/// </summary>
public sealed class OverRingDeviceContractTests : DeviceContractTests
{
    /// <inheritdoc/>
    protected override IPlacedDevice Place(IDevice model) => new RingPlacement(model);

    [Theory]
    [MemberData(nameof(CatalogTypes))]
    public async Task Snapshot_RestoredIntoAFreshDevice_ReadsAsTheDeviceItWasTakenFrom(string type)
    {
        await using RingPlacement original = new(CreateModel(type));
        await using RingPlacement successor = new(CreateModel(type));
        Run(original, Script(type));

        byte[]? state = original.SaveState();
        bool restored = state is not null && successor.RestoreState(state);
        ulong[] expected = Run(original, Probe(type));
        ulong[] actual = Run(successor, Probe(type));

        Assert.Equal(CreateModel(type) is ISnapshotable, state is not null);
        Assert.Equal(state is not null, restored);
        if (restored)
        {
            Assert.Equal(expected, actual);
        }
    }

    /// <summary>A model served by a <see cref="DeviceServer"/> over its own ring; the test plays the CPU side.</summary>
    private sealed class RingPlacement : IPlacedDevice
    {
        private readonly TestSegment _segment = new(new RingGeometry(8, 8, 8));
        private readonly RingRequester _requester;
        private readonly OutputForwarder _output = new(new JsonRpc(Stream.Null));
        private readonly DeviceTimers _timers;
        private readonly DeviceServer _server;
        private readonly IDevice _model;

        public RingPlacement(IDevice model)
        {
            _model = model;
            _requester = new RingRequester(_segment.CpuSide, WaitSettings.Handoff);
            RingResponder responder = new(_segment.DeviceSide, WaitSettings.Handoff);
            DeviceServer? server = null;
            _timers = new DeviceTimers(1, () => server?.WakeForTimers(), MachineClock.Host);
            server = new DeviceServer(responder, [model], [DeviceId], _segment.DeviceSide, _output, _timers);
            _server = server;
        }

        public ulong Read(int region, ulong offset, int size)
        {
            RingMessage reply = Call(new RingMessage { Kind = MessageKind.Read, AccessSize = (byte)size, Region = (ushort)region, Offset = offset });
            return reply.Kind == MessageKind.ReadDone ? reply.Value : size >= 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;
        }

        public void Write(int region, ulong offset, int size, ulong value) =>
            Call(new RingMessage { Kind = MessageKind.Write, AccessSize = (byte)size, Region = (ushort)region, Offset = offset, Value = value });

        public int Input(int region, ReadOnlySpan<byte> data)
        {
            RingMessage reply = Call(InputPayload.Request(0, (ushort)region, data));
            return reply.Kind == MessageKind.InputTaken ? (int)reply.Value : IPlacedDevice.InputRefused;
        }

        public void SetRegionGone(int region, bool gone)
        {
            RingMessage reply = Call(new RingMessage { Kind = gone ? MessageKind.RegionsGone : MessageKind.RegionsBack, Region = (ushort)region });
            Assert.Equal(MessageKind.ControlDone, reply.Kind);
        }

        public void Reset() => Call(new RingMessage { Kind = MessageKind.ResetDevice });

        /// <summary>Counters as the device process keeps them (written by its serving thread before each reply).</summary>
        public DeviceAccessStats Stats() => _server.Stats(0, outputBytes: 0);

        /// <summary>The snapshot as the CPU process takes it through the state area, or null when the device refused.</summary>
        public byte[]? SaveState()
        {
            RingMessage reply = Call(new RingMessage { Kind = MessageKind.SaveState });
            return reply.Kind == MessageKind.StateSaved ? _segment.CpuSide.StateArea[..(int)reply.Value].ToArray() : null;
        }

        /// <summary>Restores a snapshot from another incarnation, as a restart does.</summary>
        public bool RestoreState(byte[] state)
        {
            state.CopyTo(_segment.CpuSide.StateArea);
            return Call(new RingMessage { Kind = MessageKind.RestoreState, Value = (ulong)state.Length }).Kind == MessageKind.ControlDone;
        }

        public async ValueTask DisposeAsync()
        {
            _server.Stop();
            _timers.Dispose();
            await _output.DisposeAsync();
            (_model as IDisposable)?.Dispose();
            _segment.Dispose();
        }

        private RingMessage Call(RingMessage request)
        {
            long deadline = Stopwatch.GetTimestamp() + (long)(TestDeadlines.Seconds(30).TotalSeconds * Stopwatch.Frequency);
            RingCallStatus status = _requester.Call(ref request, out RingMessage reply, deadline);
            Assert.Equal(RingCallStatus.Completed, status);
            return reply;
        }
    }
}
