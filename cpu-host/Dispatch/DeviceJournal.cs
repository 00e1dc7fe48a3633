using SplitEmu.Shared.Transport;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// One device's last snapshot and the accesses it served since (console input included), in the order it served them (bounded). A
/// restarted device gets the snapshot, then the accesses replayed, and is exactly where it was when it died.
/// </summary>
public sealed class DeviceJournal(int limit)
{
    private readonly List<JournalEntry> _entries = [];

    /// <summary>The state to restore first; null means the power-on state.</summary>
    public byte[]? Snapshot { get; private set; }

    /// <summary>Whether the device can be restored at all (it answered a snapshot request); otherwise it is reset.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Accesses since <see cref="Snapshot"/>.</summary>
    public IReadOnlyList<JournalEntry> Entries => _entries;

    /// <summary>Whether it is time for a new snapshot.</summary>
    public bool IsFull => _entries.Count >= limit;

    /// <summary>Records a served access (with the value a read returned, or the count a console input took).</summary>
    public void Record(in RingMessage request, ulong readValue)
    {
        if (Enabled)
        {
            _entries.Add(new JournalEntry(request, readValue));
        }
    }

    /// <summary>Starts over from <paramref name="snapshot"/>.</summary>
    public void Reset(byte[] snapshot)
    {
        Snapshot = snapshot;
        _entries.Clear();
    }

    /// <summary>The device cannot be restored: forget everything, it will be reset.</summary>
    public void Disable()
    {
        Enabled = false;
        Snapshot = null;
        _entries.Clear();
    }
}

/// <summary>One journaled access.</summary>
/// <param name="Request">The request as sent.</param>
/// <param name="ReadValue">What a read returned, or how many bytes an input took (to detect a device that answers differently on replay).</param>
public readonly record struct JournalEntry(RingMessage Request, ulong ReadValue);
