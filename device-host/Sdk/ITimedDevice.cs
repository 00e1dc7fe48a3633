namespace SplitEmu.DeviceHost.Sdk;

/// <summary>A device with a timer (see <see cref="IDeviceContext.SetTimer"/>): an 8254, an RTC.</summary>
public interface ITimedDevice
{
    /// <summary>The armed deadline has passed; <paramref name="nowNanoseconds"/> is the machine clock now.</summary>
    void OnTimer(long nowNanoseconds);
}
