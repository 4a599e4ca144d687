using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// ip_vs_dh.c: a 256-bucket table (CONFIG_IP_VS_DH_TAB_BITS 8) filled by walking the dest list one
/// bucket per dest, round and round, weights ignored; a packet's destination address picks the bucket by
/// hash_32(daddr, 8). The bucket's dest is used only if it is available, has weight &gt; 0 and is not
/// overloaded; otherwise there is no dest (dh has no fallback).
/// </summary>
internal sealed class DestinationHashingScheduler : IScheduler
{
    public const int TableBits = 8;
    public const int TableSize = 1 << TableBits;

    private RealServer[] _dests = [];
    private RealServer?[] _buckets = new RealServer?[TableSize];

    public string Name => "dh";

    public RealServer[] Bound => _dests;

    public void Update(DestSet set)
    {
        // The control plane builds the table with the list; a mismatch only happens while an EditService
        // swaps the scheduler, and then the worker builds it once for itself.
        _buckets = set.Table as RealServer?[] ?? BuildTable(set.Dests);
        _dests = set.Dests;
    }

    /// <summary>ip_vs_dh_reassign.</summary>
    public static RealServer?[] BuildTable(RealServer[] dests)
    {
        var buckets = new RealServer?[TableSize];
        if (dests.Length == 0)
            return buckets;
        for (int i = 0; i < TableSize; i++)
            buckets[i] = dests[i % dests.Length];
        return buckets;
    }

    /// <summary>ip_vs_dh_hashkey.</summary>
    public static uint Bucket(uint daddr) => KernelHash.Hash32(daddr, TableBits);

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs)
    {
        var d = _buckets[Bucket(packet.DestinationAddress)];
        if (d is null || !d.IsAvailable || d.Weight <= 0 || d.IsOverloaded)
            return null;
        return d;
    }
}
