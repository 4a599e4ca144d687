using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// ip_vs_lc.c: the dest with the least overhead (active * 256 + inactive, ip_vs_dest_conn_overhead),
/// weights ignored except 0. A later dest replaces the candidate only when strictly less loaded, so ties
/// go to the earlier dest in list order.
/// </summary>
internal sealed class LeastConnectionScheduler : IScheduler
{
    private RealServer[] _dests = [];

    public string Name => "lc";

    public RealServer[] Bound => _dests;

    public void Update(DestSet set) => _dests = set.Dests;

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs)
    {
        RealServer? least = null;
        long loh = 0;
        foreach (var d in _dests)
        {
            if (d.IsOverloaded || d.Weight == 0)
                continue;
            long doh = d.Overhead;
            if (least is null || doh < loh)
            {
                least = d;
                loh = doh;
            }
        }
        return least;
    }
}
