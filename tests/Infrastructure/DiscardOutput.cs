using SplitEmu.DeviceHost.Sdk;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>A device output sink that drops everything: for machines built in the test process whose output no test reads.</summary>
public sealed class DiscardOutput : IDeviceOutputSink
{
    /// <inheritdoc/>
    public void Write(string deviceId, ReadOnlySpan<byte> data)
    {
    }
}
