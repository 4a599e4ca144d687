using System.Runtime.CompilerServices;

namespace Fulcrum.Linux;

/// <summary>
/// One of an AF_XDP socket's four single-producer/single-consumer rings (fill, completion, RX, TX) as the
/// kernel maps it: a free-running 32-bit producer and consumer index, a flags word and a power-of-two array
/// of entries (u64 addresses for fill and completion, xdp_desc for RX and TX). User space is the producer
/// of fill and TX, the consumer of RX and completion; the other side's index is re-read only when the cached
/// copy says the ring is full or empty (as libxdp's xsk.h does), so most calls touch no shared cache line.
/// </summary>
/// <remarks>
/// Hand-written rather than xsk.h: Debian 12's libbpf 1.1 dropped xsk.h and its successor, libxdp, is not
/// packaged there; the arithmetic is small. Indexes wrap at 2^32: every difference is taken in uint, so
/// "prod - cons" stays right across the wrap (tested in XskRingTests).
/// </remarks>
internal unsafe struct XskRing
{
    private readonly uint* _producer;
    private readonly uint* _consumer;
    private readonly uint* _flags;
    private readonly byte* _entries;
    private readonly int _entrySize;
    private uint _local;  // our own index: the producer's for fill/TX, the consumer's for RX/completion
    private uint _cached; // the last value read of the other side's index

    public XskRing(uint* producer, uint* consumer, uint* flags, byte* entries, int entrySize, uint size, bool userProduces)
    {
        if (size == 0 || (size & (size - 1)) != 0)
            throw new ArgumentException("an AF_XDP ring's size is a power of two", nameof(size));
        _producer = producer;
        _consumer = consumer;
        _flags = flags;
        _entries = entries;
        _entrySize = entrySize;
        Size = size;
        Mask = size - 1;
        if (userProduces)
        {
            _local = Volatile.Read(ref *producer);
            // A producer's view of the consumer is kept one ring ahead, so free = cached - local.
            _cached = Volatile.Read(ref *consumer) + size;
        }
        else
        {
            _local = Volatile.Read(ref *consumer);
            _cached = Volatile.Read(ref *producer);
        }
    }

    public uint Size { get; }

    public uint Mask { get; }

    /// <summary>Our index (not yet published by <see cref="Submit"/> for a producer).</summary>
    public readonly uint Local => _local;

    /// <summary>The kernel asks to be woken (XDP_RING_NEED_WAKEUP) before it looks at this ring again.</summary>
    public readonly bool NeedsWakeup => _flags != null && (Volatile.Read(ref *_flags) & Interop.Xdp.XDP_RING_NEED_WAKEUP) != 0;

    /// <summary>Producer: how many entries may be written now (at most <paramref name="wanted"/> makes it re-read the consumer only when short).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Free(uint wanted)
    {
        uint free = _cached - _local;
        if (free >= wanted)
            return free;
        _cached = Volatile.Read(ref *_consumer) + Size;
        return _cached - _local;
    }

    /// <summary>Consumer: how many entries are ready (re-reads the producer only when the cached view is drained).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Available()
    {
        uint ready = _cached - _local;
        if (ready != 0)
            return ready;
        _cached = Volatile.Read(ref *_producer);
        return _cached - _local;
    }

    /// <summary>The entry <paramref name="offset"/> places after our index.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly byte* Entry(uint offset) => _entries + ((nint)((_local + offset) & Mask) * _entrySize);

    /// <summary>Producer: publishes <paramref name="count"/> written entries (release: entries before index).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Submit(uint count)
    {
        _local += count;
        Volatile.Write(ref *_producer, _local);
    }

    /// <summary>Consumer: gives <paramref name="count"/> read entries back to the kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Release(uint count)
    {
        _local += count;
        Volatile.Write(ref *_consumer, _local);
    }

    /// <summary>Producer: entries published that the kernel has not consumed yet.</summary>
    public readonly uint Outstanding => _local - Volatile.Read(ref *_consumer);
}
