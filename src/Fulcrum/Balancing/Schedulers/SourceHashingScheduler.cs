using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// ip_vs_sh.c: a 256-bucket table (CONFIG_IP_VS_SH_TAB_BITS 8) filled by walking the dest list, each dest
/// taking as many consecutive buckets as its weight (at least one, weight 0 included), round and round.
/// The bucket is (offset + hash_32(sport + saddr, 8)) &amp; 255 with sport only under sh-port
/// (<see cref="SchedulerFlags.Flag2"/>), else 0. A dest with weight 0 or overloaded is unusable; with
/// sh-fallback (<see cref="SchedulerFlags.Flag1"/>) the search continues at offsets ihash, ihash + 1, ...
/// until a usable dest, an empty bucket or 256 tries.
/// </summary>
internal sealed class SourceHashingScheduler : IScheduler
{
    public const int TableBits = 8;
    public const int TableSize = 1 << TableBits;
    private const int TableMask = TableSize - 1;

    private RealServer[] _dests = [];
    private RealServer?[] _buckets = new RealServer?[TableSize];

    public string Name => "sh";

    public RealServer[] Bound => _dests;

    public void Update(DestSet set)
    {
        _buckets = set.Table as RealServer?[] ?? BuildTable(set.Dests);
        _dests = set.Dests;
    }

    /// <summary>ip_vs_sh_reassign: weight reads the current weight, so a quiesced dest keeps one bucket.</summary>
    public static RealServer?[] BuildTable(RealServer[] dests)
    {
        var buckets = new RealServer?[TableSize];
        if (dests.Length == 0)
            return buckets;
        int p = 0, count = 0;
        for (int i = 0; i < TableSize; i++)
        {
            var d = dests[p];
            buckets[i] = d;
            if (++count >= d.Weight)
            {
                p = (p + 1) % dests.Length;
                count = 0;
            }
        }
        return buckets;
    }

    /// <summary>ip_vs_sh_hashkey (IPv4): the u32 sum wraps as in C.</summary>
    public static uint Bucket(uint saddr, ushort port, uint offset) =>
        (offset + KernelHash.Hash32(port + saddr, TableBits)) & TableMask;

    private static bool IsUnavailable(RealServer d) => d.Weight <= 0 || d.IsOverloaded;

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs)
    {
        var flags = service.Spec.Flags;
        ushort port = (flags & SchedulerFlags.Flag2) != 0 ? packet.SourcePort : (ushort)0;
        var buckets = _buckets;
        uint ihash = Bucket(packet.SourceAddress, port, 0);
        var d = buckets[ihash];
        if (d is null)
            return null;
        if (!IsUnavailable(d))
            return d;
        if ((flags & SchedulerFlags.Flag1) == 0)
            return null;

        // ip_vs_sh_get_fallback: loop around the table starting from the original hash.
        for (uint offset = 0; offset < TableSize; offset++)
        {
            uint roffset = (offset + ihash) % TableSize;
            d = buckets[Bucket(packet.SourceAddress, port, roffset)];
            if (d is null)
                break;
            if (!IsUnavailable(d))
                return d;
        }
        return null;
    }
}
