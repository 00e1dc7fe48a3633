using SplitEmu.CpuHost.Cpu;

namespace SplitEmu.Tests.Cpu.Infrastructure;

/// <summary>An INTR source with at most one pending vector, counting acknowledgements.</summary>
public sealed class FakeInterruptController : IInterruptController
{
    private byte? _pending;

    public int Acknowledged { get; private set; }

    public bool HasPendingInterrupt => _pending.HasValue;

    public void Raise(byte vector) => _pending = vector;

    public byte AcknowledgeInterrupt()
    {
        byte vector = _pending ?? throw new InvalidOperationException("INTA with nothing pending");
        _pending = null;
        Acknowledged++;
        return vector;
    }
}
