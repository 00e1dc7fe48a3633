using SplitEmu.CpuHost.Dispatch;
using SplitEmu.CpuHost.Memory;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Tests.Devices.Contract;

/// <summary>The device contract for a model placed inline: the CPU process calls it through <see cref="InlineDevice"/>.</summary>
public sealed class InProcessDeviceContractTests : DeviceContractTests
{
    /// <inheritdoc/>
    protected override IPlacedDevice Place(IDevice model) => new InlinePlacement(new InlineDevice(DeviceId, model));

    /// <summary>An inline device reached as the map reaches it: region handlers and the device link.</summary>
    private sealed class InlinePlacement(InlineDevice device) : IPlacedDevice
    {
        public ulong Read(int region, ulong offset, int size) => device.HandlerFor(region).Read(offset, size);

        public void Write(int region, ulong offset, int size, ulong value) => device.HandlerFor(region).Write(offset, size, value);

        public int Input(int region, ReadOnlySpan<byte> data)
        {
            int taken = device.HandlerFor(region).Input(data);
            return taken == IRegionHandler.InputRefused ? IPlacedDevice.InputRefused : taken;
        }

        public void SetRegionGone(int region, bool gone)
        {
            bool told = gone ? device.NotifyRegionGone(region) : device.NotifyRegionBack(region);
            Assert.True(told, $"the inline device was not told region {region} is {(gone ? "gone" : "back")}");
        }

        public void Reset() => device.Reset();

        public DeviceAccessStats Stats() => device.Stats(outputBytes: 0);

        public ValueTask DisposeAsync()
        {
            (device.Device as IDisposable)?.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
