using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>The constants lblc and lblcr share (ip_vs_lblc.c, ip_vs_lblcr.c).</summary>
/// <summary>A locality cache entry: when a packet last used it.</summary>
internal interface ILocalityEntry
{
    long LastUse { get; }
}

/// <summary>
/// The cache garbage collector lblc and lblcr share (ip_vs_lblc_check_expire and
/// ip_vs_lblcr_check_expire are the same code in the kernel): every CheckIntervalMs, drop entries idle
/// for ExpirationMs on every 30th run, otherwise only trim an over-full cache of entries idle for
/// EntryTimeoutMs. Run by the worker that owns the cache, on its own clock.
/// </summary>
internal struct LocalityExpiry
{
    private long _nextCheckMs;
    private int _counter;

    public LocalityExpiry()
    {
        _nextCheckMs = long.MinValue;
        _counter = 1;
    }

    public void Check<TEntry>(Dictionary<uint, TEntry> cache, long nowMs)
        where TEntry : struct, ILocalityEntry
    {
        if (nowMs < _nextCheckMs)
            return;
        bool first = _nextCheckMs == long.MinValue;
        _nextCheckMs = nowMs + LocalityCache.CheckIntervalMs;
        if (first)
            return; // the timer is armed at init_svc
        if (_counter % LocalityCache.CountForFullExpiration == 0)
        {
            foreach (var (key, e) in cache)
            {
                if (e.LastUse + LocalityCache.ExpirationMs <= nowMs)
                    cache.Remove(key);
            }
            _counter = 1;
            return;
        }
        if (cache.Count <= LocalityCache.MaxSize)
        {
            _counter++;
            return;
        }
        int goal = Math.Min((cache.Count - LocalityCache.MaxSize) * 4 / 3, LocalityCache.MaxSize / 2);
        foreach (var (key, e) in cache)
        {
            if (goal <= 0)
                break;
            if (nowMs < e.LastUse + LocalityCache.EntryTimeoutMs)
                continue;
            cache.Remove(key);
            goal--;
        }
    }
}

internal static class LocalityCache
{
    /// <summary>DEFAULT_EXPIRATION (sysctl lblc_expiration / lblcr_expiration): 24 hours.</summary>
    public const long ExpirationMs = 24L * 60 * 60 * 1000;

    /// <summary>CHECK_EXPIRE_INTERVAL: the garbage collector's period.</summary>
    public const long CheckIntervalMs = 60 * 1000;

    /// <summary>ENTRY_TIMEOUT: idle time after which an entry may go when the table is over max_size.</summary>
    public const long EntryTimeoutMs = 6 * 60 * 1000;

    /// <summary>COUNT_FOR_FULL_EXPIRATION: every 30th check is a full one (entries idle for ExpirationMs).</summary>
    public const int CountForFullExpiration = 30;

    /// <summary>tbl->max_size = IP_VS_LBLC_TAB_SIZE * 16 (1024 buckets).</summary>
    public const int MaxSize = 1024 * 16;

    /// <summary>
    /// A hard bound the kernel does not have: past it a new target is served uncached ("if we fail to create
    /// a cache entry, we'll just use the valid dest"), so the dictionary never grows after construction.
    /// </summary>
    public const int HardLimit = MaxSize * 2;

    /// <summary>
    /// The cache starts small and doubles as targets arrive (a handful of times up to the bound, never per
    /// packet), so a service that sees few targets costs little per worker.
    /// </summary>
    public const int InitialCapacity = 64;

    /// <summary>
    /// ip_vs_lblc_schedule's weighted least-connection choice over the whole service (__ip_vs_lblc_schedule,
    /// identical in lblcr and to wlc): overhead * weight compared, ties to the earlier dest, overloaded skipped.
    /// </summary>
    public static RealServer? LeastLoaded(RealServer[] dests) => WeightedLeastConnectionScheduler.LeastLoaded(dests);

    /// <summary>
    /// is_overloaded (lblc/lblcr): more active connections than weight while some dest of the service is
    /// under half its weight.
    /// </summary>
    public static bool IsOverloaded(RealServer dest, RealServer[] dests)
    {
        if (dest.ActiveConns > dest.Weight)
        {
            foreach (var d in dests)
            {
                if (d.ActiveConns * 2L < d.Weight)
                    return true;
            }
        }
        return false;
    }
}

/// <summary>
/// ip_vs_lblc.c: a cache from the packet's destination address to a dest. A cached dest is kept while it
/// is available, has weight &gt; 0 and is not overloaded in lblc's sense (above its weight while another
/// dest is under half load); otherwise the weighted least-connection dest is chosen and cached. Entries
/// age out as the kernel's timer does: checked every 60 s, entries idle 6 min dropped when over 16384,
/// every 30th check those idle 24 h. The cache is per worker (the kernel has one per service): workers
/// that see the same destination address may cache different dests.
/// Also skips a cached dest that reached its upper threshold, which the kernel's lblc does not check.
/// </summary>
internal sealed class LocalityBasedLeastConnectionScheduler : IScheduler
{
    private struct Entry : ILocalityEntry
    {
        public RealServer Dest;
        public long LastUse;

        readonly long ILocalityEntry.LastUse => LastUse;
    }

    private readonly Dictionary<uint, Entry> _cache = new(LocalityCache.InitialCapacity);
    private RealServer[] _dests = [];
    private LocalityExpiry _expiry = new();

    public string Name => "lblc";

    public RealServer[] Bound => _dests;

    internal int CachedCount => _cache.Count;

    public void Update(DestSet set) => _dests = set.Dests;

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs)
    {
        _expiry.Check(_cache, nowMs);
        var dests = _dests;
        uint daddr = packet.DestinationAddress;
        ref var en = ref CollectionsMarshal.GetValueRefOrNullRef(_cache, daddr);
        if (!Unsafe.IsNullRef(ref en))
        {
            en.LastUse = nowMs;
            var cached = en.Dest;
            if (cached.IsAvailable && cached.Weight > 0 && !cached.IsOverloaded && !LocalityCache.IsOverloaded(cached, dests))
                return cached;
        }

        var dest = LocalityCache.LeastLoaded(dests);
        if (dest is null)
            return null;
        // ip_vs_lblc_new: an existing entry takes the new dest (its lastuse stays as just set).
        if (!Unsafe.IsNullRef(ref en))
            en.Dest = dest;
        else if (_cache.Count < LocalityCache.HardLimit)
            _cache[daddr] = new Entry { Dest = dest, LastUse = nowMs };
        return dest;
    }

    /// <summary>ip_vs_lblc_check_expire, run lazily when its 60 s timer would have fired.</summary>
}
