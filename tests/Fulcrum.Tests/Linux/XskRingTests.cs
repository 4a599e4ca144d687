using System.Runtime.InteropServices;
using Fulcrum.Linux;

namespace Fulcrum.Tests.Linux;

/// <summary>
/// XskRing's index arithmetic on memory laid out as the kernel maps a ring (producer, consumer, flags,
/// entries), with this test playing the kernel's side.
/// </summary>
public sealed unsafe class XskRingTests : IDisposable
{
    private const uint Size = 8;
    private readonly byte* _mem;
    private readonly uint* _producer;
    private readonly uint* _consumer;
    private readonly uint* _flags;
    private readonly ulong* _entries;

    public XskRingTests()
    {
        _mem = (byte*)NativeMemory.AllocZeroed(64 + (Size * sizeof(ulong)));
        _producer = (uint*)_mem;
        _consumer = (uint*)(_mem + 4);
        _flags = (uint*)(_mem + 8);
        _entries = (ulong*)(_mem + 64);
    }

    public void Dispose() => NativeMemory.Free(_mem);

    [Fact]
    public void Producer_EmptyRing_AllEntriesFree()
    {
        var ring = Ring(userProduces: true);
        Assert.Equal(Size, ring.Free(1));
    }

    [Fact]
    public void Producer_Submit_PublishesIndexAndEntriesAtMaskedSlots()
    {
        var ring = Ring(userProduces: true);
        for (uint i = 0; i < 3; i++)
            *(ulong*)ring.Entry(i) = 100 + i;
        ring.Submit(3);

        Assert.Equal(3u, *_producer);
        Assert.Equal(new ulong[] { 100, 101, 102 }, new ReadOnlySpan<ulong>(_entries, 3).ToArray());
        Assert.Equal(Size - 3, ring.Free(Size));
        Assert.Equal(3u, ring.Outstanding);
    }

    [Fact]
    public void Producer_FullRing_NoneFreeUntilTheKernelConsumes()
    {
        var ring = Ring(userProduces: true);
        ring.Submit(Size);
        Assert.Equal(0u, ring.Free(1));

        *_consumer = 5; // the kernel took five
        Assert.Equal(5u, ring.Free(1));
        Assert.Equal(3u, ring.Outstanding);
    }

    [Fact]
    public void Producer_CachedConsumer_ReReadOnlyWhenShort()
    {
        var ring = Ring(userProduces: true);
        ring.Submit(6);
        *_consumer = 6;
        // Two free by the cached view satisfies a request for two: no re-read yet.
        Assert.Equal(2u, ring.Free(2));
        // Asking for more makes it look at the kernel's consumer.
        Assert.Equal(Size, ring.Free(3));
    }

    [Fact]
    public void Producer_IndexesWrapAt2Pow32_FreeStaysRight()
    {
        *_producer = uint.MaxValue - 1;
        *_consumer = uint.MaxValue - 1;
        var ring = Ring(userProduces: true);
        *(ulong*)ring.Entry(0) = 7;
        *(ulong*)ring.Entry(1) = 8;
        *(ulong*)ring.Entry(2) = 9;
        ring.Submit(3);

        Assert.Equal(1u, *_producer);                    // wrapped
        Assert.Equal(Size - 3, ring.Free(Size));
        // (2^32 - 2) & 7 = 6: entries at slots 6, 7, 0.
        Assert.Equal(7ul, _entries[6]);
        Assert.Equal(8ul, _entries[7]);
        Assert.Equal(9ul, _entries[0]);
    }

    [Fact]
    public void Consumer_NothingProduced_NoneAvailable()
    {
        var ring = Ring(userProduces: false);
        Assert.Equal(0u, ring.Available());
    }

    [Fact]
    public void Consumer_KernelProduces_AvailableAndReleaseAdvancesConsumer()
    {
        var ring = Ring(userProduces: false);
        _entries[0] = 11;
        _entries[1] = 12;
        *_producer = 2;

        Assert.Equal(2u, ring.Available());
        Assert.Equal(11ul, *(ulong*)ring.Entry(0));
        Assert.Equal(12ul, *(ulong*)ring.Entry(1));
        ring.Release(2);
        Assert.Equal(2u, *_consumer);
        Assert.Equal(0u, ring.Available());
    }

    [Fact]
    public void Consumer_IndexesWrapAt2Pow32_AvailableStaysRight()
    {
        *_producer = uint.MaxValue;
        *_consumer = uint.MaxValue;
        var ring = Ring(userProduces: false);
        _entries[7] = 1;
        _entries[0] = 2;
        *_producer = 1; // two more, across the wrap

        Assert.Equal(2u, ring.Available());
        Assert.Equal(1ul, *(ulong*)ring.Entry(0));
        Assert.Equal(2ul, *(ulong*)ring.Entry(1));
        ring.Release(2);
        Assert.Equal(1u, *_consumer);
    }

    [Fact]
    public void NeedsWakeup_FollowsTheFlagsWord()
    {
        var ring = Ring(userProduces: true);
        Assert.False(ring.NeedsWakeup);
        *_flags = 1;
        Assert.True(ring.NeedsWakeup);
    }

    [Fact]
    public void Constructor_SizeNotAPowerOfTwo_Throws()
    {
        Assert.Throws<ArgumentException>(() => new XskRing(_producer, _consumer, _flags, (byte*)_entries, sizeof(ulong), 6, true));
    }

    private XskRing Ring(bool userProduces) => new(_producer, _consumer, _flags, (byte*)_entries, sizeof(ulong), Size, userProduces);
}
