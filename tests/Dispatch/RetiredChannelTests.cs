using SplitEmu.CpuHost.Dispatch;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Transport;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Dispatch;

/// <summary>
/// When a device process is replaced, its lines are lowered once; an interrupt-line event of the old incarnation
/// that its event pump applies after that must not raise the line again (it would stay high and swallow the
/// successor's next rising edge). Real ring, real event pump.
/// </summary>
public sealed class RetiredChannelTests
{
    private const int Line = 14;

    [Fact]
    public void RetiredIncarnation_HandsOverItsHeldLines_AndRaisesNoneAfterwards()
    {
        using TestSegment segment = new(RingGeometry.Default);
        DeviceProcessSlot slot = new("ide", [new DeviceConfig { Id = "ide", Type = "piix3-ide" }]);
        List<(MessageKind Kind, bool Applied)> seen = [];
        using ManualResetEventSlim markerSeen = new();
        void Apply(DeviceChannel from, RingMessage message)
        {
            bool applied = message.Kind != MessageKind.IrqLevel || from.AcceptIrq(message.Device, (int)message.Offset, message.Value != 0);
            lock (seen)
            {
                seen.Add((message.Kind, applied));
            }

            if (message.Kind == MessageKind.DmaWritten)
            {
                markerSeen.Set();
            }
        }

        using DeviceChannel channel = new(slot, 0, segment.CpuSide, new RingRequester(segment.CpuSide, WaitSettings.Handoff), Apply, (_, _) => { });
        RingResponder device = new(segment.DeviceSide, WaitSettings.Handoff);

        device.PostEvent(new RingMessage { Kind = MessageKind.IrqLevel, Offset = Line, Value = 1 });
        device.PostEvent(new RingMessage { Kind = MessageKind.DmaWritten, Offset = 0, Value = 0 }); // marker: all before it applied
        Assert.True(markerSeen.Wait(TimeSpan.FromSeconds(10)), "the event pump did not apply the first events");
        int handedOver = channel.Retire();
        markerSeen.Reset();
        device.PostEvent(new RingMessage { Kind = MessageKind.IrqLevel, Offset = Line, Value = 1 }); // late, from the dead one
        device.PostEvent(new RingMessage { Kind = MessageKind.DmaWritten, Offset = 0, Value = 0 });
        Assert.True(markerSeen.Wait(TimeSpan.FromSeconds(10)), "the event pump did not apply the late events");

        Assert.Equal(1 << Line, handedOver);
        lock (seen)
        {
            Assert.Equal([(MessageKind.IrqLevel, true), (MessageKind.DmaWritten, true), (MessageKind.IrqLevel, false), (MessageKind.DmaWritten, true)], seen);
        }

        Assert.Equal(0, channel.Retire()); // the refused raise was not noted as held either
    }
}
