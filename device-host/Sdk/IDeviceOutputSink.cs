namespace SplitEmu.DeviceHost.Sdk;

/// <summary>Where devices' output streams go (the launcher's console, a test's buffer).</summary>
public interface IDeviceOutputSink
{
    /// <summary>Appends <paramref name="data"/> to <paramref name="deviceId"/>'s stream. Must not block on I/O.</summary>
    void Write(string deviceId, ReadOnlySpan<byte> data);

    /// <summary>Whether <paramref name="deviceId"/>'s stream is backed up (see <see cref="IDeviceContext.OutputBackedUp"/>).</summary>
    bool IsBackedUp(string deviceId) => false;
}
