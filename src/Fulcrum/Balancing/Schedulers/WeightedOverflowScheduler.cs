using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// ip_vs_ovf.c: the highest-weight dest whose active connections do not exceed its weight; skips
/// overloaded and weight-0 dests; a later dest must be strictly heavier to win (ties: list order).
/// </summary>
internal sealed class WeightedOverflowScheduler : IScheduler
{
    private RealServer[] _dests = [];

    public string Name => "ovf";

    public RealServer[] Bound => _dests;

    public void Update(DestSet set) => _dests = set.Dests;

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs)
    {
        RealServer? h = null;
        int hw = 0;
        foreach (var d in _dests)
        {
            int w = d.Weight;
            if (d.IsOverloaded || d.ActiveConns > w || w == 0)
                continue;
            if (h is null || w > hw)
            {
                h = d;
                hw = w;
            }
        }
        return h;
    }
}
