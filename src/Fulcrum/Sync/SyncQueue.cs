using Fulcrum.Balancing;

namespace Fulcrum.Sync;

/// <summary>
/// A bounded single-producer single-consumer ring: one worker enqueues, the MASTER's sync thread
/// dequeues. Neither side locks or waits; a full ring refuses, and the worker counts the drop, so the
/// data plane never waits for sync.
/// </summary>
internal sealed class SyncQueue
{
    private readonly SyncedConnection[] _items;
    private readonly int _mask;
    // Producer and consumer positions on separate cache lines.
    private PaddedLong _tail;
    private PaddedLong _head;

    public SyncQueue(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        int size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity);
        _items = new SyncedConnection[size];
        _mask = size - 1;
    }

    public int Capacity => _items.Length;

    public long Dropped;

    /// <summary>Producer side (one worker).</summary>
    public bool TryEnqueue(in SyncedConnection item)
    {
        long tail = _tail.Value;
        if (tail - Volatile.Read(ref _head.Value) >= _items.Length)
        {
            Interlocked.Increment(ref Dropped);
            return false;
        }
        _items[tail & _mask] = item;
        Volatile.Write(ref _tail.Value, tail + 1);
        return true;
    }

    /// <summary>Consumer side (the sync thread).</summary>
    public bool TryDequeue(out SyncedConnection item)
    {
        long head = _head.Value;
        if (head == Volatile.Read(ref _tail.Value))
        {
            item = default;
            return false;
        }
        item = _items[head & _mask];
        Volatile.Write(ref _head.Value, head + 1);
        return true;
    }

    public bool IsEmpty => Volatile.Read(ref _head.Value) == Volatile.Read(ref _tail.Value);

    /// <summary>Empties the ring (consumer side), e.g. when the MASTER daemon stops.</summary>
    public void Clear()
    {
        while (TryDequeue(out _))
        {
        }
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 128)]
    private struct PaddedLong
    {
        [System.Runtime.InteropServices.FieldOffset(64)]
        public long Value;
    }
}
