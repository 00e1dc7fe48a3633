namespace SplitEmu.CpuHost.Cpu;

/// <summary>
/// Physical ranges other threads (DMA) reported as written, waiting for the CPU thread to drop the decoded
/// instructions there at its next instruction boundary. Fixed capacity, no allocation: on overflow the whole
/// decoded-instruction cache is dropped instead.
/// </summary>
internal sealed class PendingCodeInvalidations
{
    private const int Capacity = 256;

    private readonly object _lock = new();
    private readonly ulong[] _addresses = new ulong[Capacity];
    private readonly int[] _lengths = new int[Capacity];
    private int _count;
    private bool _overflowed;

    /// <summary>Records a written range. Thread-safe.</summary>
    public void Add(ulong physicalAddress, int length)
    {
        lock (_lock)
        {
            // Merge with the previous range when contiguous (byte-by-byte writers, block copies).
            if (_count > 0 && _addresses[_count - 1] + (ulong)_lengths[_count - 1] == physicalAddress
                && (long)_lengths[_count - 1] + length <= int.MaxValue)
            {
                _lengths[_count - 1] += length;
                return;
            }
            if (_count == Capacity)
            {
                _overflowed = true;
                return;
            }
            _addresses[_count] = physicalAddress;
            _lengths[_count] = length;
            _count++;
        }
    }

    /// <summary>Applies and clears the recorded ranges. Called on the CPU thread only.</summary>
    public void Drain(DecodedInstructionCache cache)
    {
        lock (_lock)
        {
            if (_overflowed)
            {
                cache.Clear();
            }
            else
            {
                for (int i = 0; i < _count; i++)
                    cache.Invalidate(_addresses[i], _lengths[i]);
            }
            _count = 0;
            _overflowed = false;
        }
    }
}
