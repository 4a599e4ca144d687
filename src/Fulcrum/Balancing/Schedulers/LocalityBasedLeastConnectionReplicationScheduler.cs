using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// ip_vs_lblcr.c: a cache from the packet's destination address to a set of dests (newest first). The
/// set's weighted least-connection member serves unless it is overloaded in lblc's sense; then the
/// service's weighted least-connection dest joins the set and serves. A set with more than one member that
/// has not changed for 24 h loses its most loaded member. Ageing as lblc; the cache is per worker.
/// A set holds at most <see cref="MaxSetSize"/> members (the kernel's is unbounded): past that, a newly
/// chosen dest serves without joining.
/// </summary>
internal sealed class LocalityBasedLeastConnectionReplicationScheduler : IScheduler
{
    public const int MaxSetSize = 16;

    [InlineArray(MaxSetSize)]
    private struct Members
    {
        private RealServer? _element;
    }

    private struct Entry : ILocalityEntry
    {
        public long LastUse;
        public long LastMod;
        public int Size;
        public Members Set;

        readonly long ILocalityEntry.LastUse => LastUse;
    }

    private readonly Dictionary<uint, Entry> _cache = new(LocalityCache.InitialCapacity);
    private RealServer[] _dests = [];
    private LocalityExpiry _expiry = new();

    public string Name => "lblcr";

    public RealServer[] Bound => _dests;

    public void Update(DestSet set) => _dests = set.Dests;

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs)
    {
        _expiry.Check(_cache, nowMs);
        var dests = _dests;
        uint daddr = packet.DestinationAddress;
        ref var en = ref CollectionsMarshal.GetValueRefOrNullRef(_cache, daddr);
        RealServer? dest;
        if (!Unsafe.IsNullRef(ref en))
        {
            en.LastUse = nowMs;
            dest = SetMin(ref en);
            if (en.Size > 1 && nowMs > en.LastMod + LocalityCache.ExpirationMs)
            {
                var m = SetMax(ref en);
                if (m is not null)
                    Erase(ref en, m, nowMs);
            }
            if (dest is not null && !LocalityCache.IsOverloaded(dest, dests))
                return dest;
            dest = LocalityCache.LeastLoaded(dests);
            if (dest is null)
                return null;
            Insert(ref en, dest, nowMs);
            return dest;
        }

        dest = LocalityCache.LeastLoaded(dests);
        if (dest is null)
            return null;
        if (_cache.Count < LocalityCache.HardLimit)
        {
            var e = new Entry { LastUse = nowMs };
            Insert(ref e, dest, nowMs);
            _cache[daddr] = e;
        }
        return dest;
    }

    /// <summary>Members of the set for <paramref name="daddr"/>, newest first (tests).</summary>
    internal RealServer[] SetOf(uint daddr)
    {
        if (!_cache.TryGetValue(daddr, out var e))
            return [];
        var list = new RealServer[e.Size];
        for (int i = 0; i < e.Size; i++)
            list[i] = e.Set[i]!;
        return list;
    }

    /// <summary>ip_vs_dest_set_insert with check: list_add at the head.</summary>
    private static void Insert(ref Entry e, RealServer dest, long nowMs)
    {
        for (int i = 0; i < e.Size; i++)
        {
            if (ReferenceEquals(e.Set[i], dest))
                return;
        }
        if (e.Size == MaxSetSize)
            return;
        for (int i = e.Size; i > 0; i--)
            e.Set[i] = e.Set[i - 1];
        e.Set[0] = dest;
        e.Size++;
        e.LastMod = nowMs;
    }

    private static void Erase(ref Entry e, RealServer dest, long nowMs)
    {
        for (int i = 0; i < e.Size; i++)
        {
            if (!ReferenceEquals(e.Set[i], dest))
                continue;
            for (int j = i; j < e.Size - 1; j++)
                e.Set[j] = e.Set[j + 1];
            e.Set[--e.Size] = null;
            e.LastMod = nowMs;
            return;
        }
    }

    /// <summary>ip_vs_dest_set_min: weighted least overhead among available, non-overloaded members.</summary>
    private static RealServer? SetMin(ref Entry e)
    {
        int i = 0;
        RealServer? least = null;
        long loh = 0;
        for (; i < e.Size; i++)
        {
            var d = e.Set[i]!;
            if (d.IsOverloaded)
                continue;
            if (d.Weight > 0 && d.IsAvailable)
            {
                least = d;
                loh = d.Overhead;
                break;
            }
        }
        if (least is null)
            return null;
        for (i++; i < e.Size; i++)
        {
            var d = e.Set[i]!;
            if (d.IsOverloaded)
                continue;
            long doh = d.Overhead;
            if (loh * d.Weight > doh * least.Weight && d.IsAvailable)
            {
                least = d;
                loh = doh;
            }
        }
        return least;
    }

    /// <summary>ip_vs_dest_set_max: weighted most overhead among members with weight &gt; 0.</summary>
    private static RealServer? SetMax(ref Entry e)
    {
        int i = 0;
        RealServer? most = null;
        long moh = 0;
        for (; i < e.Size; i++)
        {
            var d = e.Set[i]!;
            if (d.Weight > 0)
            {
                most = d;
                moh = d.Overhead;
                break;
            }
        }
        if (most is null)
            return null;
        for (i++; i < e.Size; i++)
        {
            var d = e.Set[i]!;
            long doh = d.Overhead;
            if (moh * d.Weight < doh * most.Weight && d.Weight > 0)
            {
                most = d;
                moh = doh;
            }
        }
        return most;
    }
}
