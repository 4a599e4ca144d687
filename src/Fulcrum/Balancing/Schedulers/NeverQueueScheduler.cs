using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// ip_vs_nq.c: the first dest (list order) with no active connection; failing that, sed's choice,
/// (active + 1) / weight, ties to the earlier dest. Weight-0 and overloaded dests are skipped.
/// </summary>
internal sealed class NeverQueueScheduler : IScheduler
{
    private RealServer[] _dests = [];

    public string Name => "nq";

    public RealServer[] Bound => _dests;

    public void Update(DestSet set) => _dests = set.Dests;

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs)
    {
        RealServer? least = null;
        long loh = 0;
        foreach (var d in _dests)
        {
            int w = d.Weight;
            if (d.IsOverloaded || w == 0)
                continue;
            int active = d.ActiveConns;
            if (active == 0)
                return d; // an idle server takes the job at once
            long doh = active + 1L;
            if (least is null || loh * w > doh * least.Weight)
            {
                least = d;
                loh = doh;
            }
        }
        return least;
    }
}
