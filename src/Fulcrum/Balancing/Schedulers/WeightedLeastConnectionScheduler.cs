using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// ip_vs_wlc.c: the dest with the least overhead/weight, where overhead = active * 256 + inactive
/// (ip_vs_dest_conn_overhead), compared as overhead1 * weight2 &gt; overhead2 * weight1 to stay in integers.
/// The first non-overloaded dest with weight &gt; 0 is the initial candidate; a later dest replaces it only
/// when strictly less loaded, so ties go to the earlier dest in list order. Counts are summed over workers.
/// </summary>
internal sealed class WeightedLeastConnectionScheduler : IScheduler
{
    private RealServer[] _dests = [];

    public string Name => "wlc";

    public RealServer[] Bound => _dests;

    public void Update(DestSet set) => _dests = set.Dests;

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs) => LeastLoaded(_dests);

    /// <summary>The weighted least-connection choice; lblc and lblcr use it too (__ip_vs_lblc_schedule is the same loop).</summary>
    public static RealServer? LeastLoaded(RealServer[] dests)
    {
        int i = 0;
        RealServer? least = null;
        long loh = 0;
        for (; i < dests.Length; i++)
        {
            var d = dests[i];
            if (!d.IsOverloaded && d.Weight > 0)
            {
                least = d;
                loh = d.Overhead;
                break;
            }
        }
        if (least is null)
            return null;

        for (i++; i < dests.Length; i++)
        {
            var d = dests[i];
            if (d.IsOverloaded)
                continue;
            long doh = d.Overhead;
            if (loh * d.Weight > doh * least.Weight)
            {
                least = d;
                loh = doh;
            }
        }
        return least;
    }
}
