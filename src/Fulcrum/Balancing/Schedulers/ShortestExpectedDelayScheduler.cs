using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// ip_vs_sed.c: the dest with the least (active + 1) / weight (ip_vs_sed_dest_overhead; inactive
/// connections do not count), compared as loh * w2 &gt; doh * w1. The first non-overloaded dest with weight
/// &gt; 0 is the initial candidate; later ones replace it only when strictly better (ties: list order).
/// </summary>
internal sealed class ShortestExpectedDelayScheduler : IScheduler
{
    private RealServer[] _dests = [];

    public string Name => "sed";

    public RealServer[] Bound => _dests;

    public void Update(DestSet set) => _dests = set.Dests;

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs)
    {
        var dests = _dests;
        int i = 0;
        RealServer? least = null;
        long loh = 0;
        for (; i < dests.Length; i++)
        {
            var d = dests[i];
            if (!d.IsOverloaded && d.Weight > 0)
            {
                least = d;
                loh = d.ActiveConns + 1L;
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
            long doh = d.ActiveConns + 1L;
            if (loh * d.Weight > doh * least.Weight)
            {
                least = d;
                loh = doh;
            }
        }
        return least;
    }
}
