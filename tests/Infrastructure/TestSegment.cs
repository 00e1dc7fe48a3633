using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>
/// A ring segment mapped twice in this process (the CPU's mapping and the device's), as two processes would
/// map it. Its share path is closed as soon as both mappings exist; the memory goes with the last mapping.
/// </summary>
public sealed class TestSegment : IDisposable
{
    /// <summary>Creates and opens a segment with <paramref name="geometry"/>.</summary>
    public TestSegment(RingGeometry geometry)
    {
        CpuSide = RingSegment.Create($"splitemu-test-{Guid.NewGuid():N}", geometry, epoch: 1);
        try
        {
            DeviceSide = RingSegment.Open(CpuSide.Memory.DuplicateDescriptor(), TestDeadlines.Seconds(1));
        }
        finally
        {
            CpuSide.Memory.Unlink();
        }
    }

    /// <summary>The creator's mapping.</summary>
    public RingSegment CpuSide { get; }

    /// <summary>The opener's mapping.</summary>
    public RingSegment DeviceSide { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        DeviceSide.Dispose();
        CpuSide.Dispose();
    }
}
