using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// ip_vs_fo.c: the non-overloaded dest with the highest weight (&gt; 0); a later dest must be strictly
/// heavier to win, so ties go to the earlier dest in list order.
/// </summary>
internal sealed class WeightedFailoverScheduler : IScheduler
{
    private RealServer[] _dests = [];

    public string Name => "fo";

    public RealServer[] Bound => _dests;

    public void Update(DestSet set) => _dests = set.Dests;

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs)
    {
        RealServer? hw = null;
        int highest = 0;
        foreach (var d in _dests)
        {
            int w = d.Weight;
            if (!d.IsOverloaded && w > highest)
            {
                hw = d;
                highest = w;
            }
        }
        return hw;
    }
}
