using System.Numerics;
using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// The Maglev lookup table exactly as ip_vs_mh.c builds it (ip_vs_mh_permutate, ip_vs_mh_populate): each
/// dest gets offset = hsiphash(port + addr, hash1) % M and skip = hsiphash(port + addr, hash2) % (M - 1) + 1
/// with the kernel's fixed keys, and turns = (last_weight / gcd) &gt;&gt; rshift (at least 1 for a non-zero
/// last weight); dests then claim their next free preferred slot in list order, each `turns` times per
/// round, until all M slots are taken. last_weight is the latest non-zero weight, so quiescing a dest
/// (weight 0) keeps its slots and only makes it unusable.
/// </summary>
internal sealed class MaglevTable
{
    /// <summary>The kernel's primes[] for CONFIG_IP_VS_MH_TAB_INDEX 8..17.</summary>
    private static readonly int[] Primes = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071];

    /// <summary>CONFIG_IP_VS_MH_TAB_INDEX's default (Kconfig: default 12, i.e. M = 4093).</summary>
    public const int DefaultTableIndex = 12;

    // generate_hash_secret: both words of each key are the same constant.
    internal const ulong Hash1Key = 2654435761UL;
    internal const ulong Hash2Key = 2654446892UL;

    private MaglevTable(RealServer?[] lookup) => Lookup = lookup;

    /// <summary>The M slots; null only when no dest has a non-zero last weight.</summary>
    public RealServer?[] Lookup { get; }

    public int Size => Lookup.Length;

    public static int SizeFor(int tableIndex) => Primes[tableIndex - 8];

    /// <summary>ip_vs_mh_hashkey for IPv4 (u32 arithmetic wraps as in C).</summary>
    public static uint HashKey(uint addr, ushort port, ulong key, uint offset) =>
        KernelHash.HSipHash(offset + port + addr, key, key);

    public static MaglevTable Build(RealServer[] dests, int tableIndex = DefaultTableIndex)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tableIndex, 8);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tableIndex, 17);
        int size = SizeFor(tableIndex);
        int tableBits = tableIndex / 2; // IP_VS_MH_TAB_BITS
        var lookup = new RealServer?[size];

        // ip_vs_mh_gcd_weight and ip_vs_mh_shift_weight over last_weight.
        int gcd = 0, maxWeight = 0;
        foreach (var d in dests)
        {
            int w = d.LastWeight;
            if (w > 0)
                gcd = gcd > 0 ? Gcd(w, gcd) : w;
            maxWeight = Math.Max(maxWeight, w);
        }
        if (gcd < 1)
            return new MaglevTable(lookup);
        int fls = 32 - BitOperations.LeadingZeroCount((uint)(maxWeight / gcd));
        int rshift = Math.Max(0, fls - tableBits);

        int n = dests.Length;
        var perm = new uint[n];
        var skip = new uint[n];
        var turns = new int[n];
        for (int i = 0; i < n; i++)
        {
            var d = dests[i];
            uint offset = HashKey(d.HashAddress, d.Port, Hash1Key, 0) % (uint)size;
            skip[i] = HashKey(d.HashAddress, d.Port, Hash2Key, 0) % (uint)(size - 1) + 1;
            perm[i] = offset;
            int lw = d.LastWeight;
            int t = (lw / gcd) >> rshift;
            turns[i] = t != 0 ? t : (lw != 0 ? 1 : 0);
        }

        var taken = new bool[size];
        int filled = 0, dtCount = 0;
        while (filled < size)
        {
            for (int i = 0; i < n;)
            {
                if (turns[i] < 1)
                {
                    i++;
                    continue;
                }
                uint c = perm[i];
                while (taken[c])
                {
                    perm[i] += skip[i];
                    if (perm[i] >= size)
                        perm[i] -= (uint)size;
                    c = perm[i];
                }
                taken[c] = true;
                lookup[c] = dests[i];
                if (++filled == size)
                    return new MaglevTable(lookup);
                if (++dtCount >= turns[i])
                {
                    dtCount = 0;
                    i++;
                }
            }
        }
        return new MaglevTable(lookup);
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
            (a, b) = (b, a % b);
        return a;
    }
}

/// <summary>
/// ip_vs_mh.c's scheduling: the slot is hsiphash(sport + saddr, hash1) % M, sport only with mh-port
/// (<see cref="SchedulerFlags.Flag2"/>). A weight-0 or overloaded dest is unusable; with mh-fallback
/// (<see cref="SchedulerFlags.Flag1"/>) the search goes on at hashes with offsets ihash, ihash + 1, ...
/// </summary>
internal sealed class MaglevHashingScheduler : IScheduler
{
    private RealServer[] _dests = [];
    private MaglevTable? _table;

    public string Name => "mh";

    public RealServer[] Bound => _dests;

    public void Update(DestSet set)
    {
        _table = set.Table as MaglevTable ?? MaglevTable.Build(set.Dests);
        _dests = set.Dests;
    }

    private static bool IsUnavailable(RealServer d) => d.Weight <= 0 || d.IsOverloaded;

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs)
    {
        var table = _table;
        if (table is null)
            return null;
        var flags = service.Spec.Flags;
        ushort port = (flags & SchedulerFlags.Flag2) != 0 ? packet.SourcePort : (ushort)0;
        var lookup = table.Lookup;
        uint size = (uint)lookup.Length;
        uint addr = packet.SourceAddress;
        uint ihash = MaglevTable.HashKey(addr, port, MaglevTable.Hash1Key, 0) % size;
        var d = lookup[ihash];
        if (d is null)
            return null;
        if (!IsUnavailable(d))
            return d;
        if ((flags & SchedulerFlags.Flag1) == 0)
            return null;

        // ip_vs_mh_get_fallback.
        for (uint offset = 0; offset < size; offset++)
        {
            uint roffset = (offset + ihash) % size;
            d = lookup[MaglevTable.HashKey(addr, port, MaglevTable.Hash1Key, roffset) % size];
            if (d is null)
                break;
            if (!IsUnavailable(d))
                return d;
        }
        return null;
    }
}
