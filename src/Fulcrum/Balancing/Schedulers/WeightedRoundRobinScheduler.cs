using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// ip_vs_wrr.c: passes over the dest list with a current weight cw that starts at the maximum weight mw
/// and drops by di (the gcd of the positive weights) after each pass; a pass picks dests with
/// weight >= cw. mw is lowered by di - 1 so the last pass runs with cw = 1 and still finds a dest whose
/// weight fell below di. The stop/last-pass logic ends a fruitless search after every dest was tried.
/// </summary>
internal sealed class WeightedRoundRobinScheduler : IScheduler
{
    private const int Head = -1;

    private RealServer[] _dests = [];
    private int _cl = Head; // current dest, or the list head
    private int _cw;        // current weight
    private int _mw;        // maximum weight - (di - 1)
    private int _di = 1;    // decreasing interval: gcd of the positive weights

    public string Name => "wrr";

    public RealServer[] Bound => _dests;

    internal int CurrentWeight => _cw;

    /// <summary>ip_vs_wrr_dest_changed (and ip_vs_wrr_init_svc, which is the same with cw = 0).</summary>
    public void Update(DestSet set)
    {
        var dests = set.Dests;
        _dests = dests;
        _cl = Head;
        _di = GcdWeight(dests);
        _mw = MaxWeight(dests) - (_di - 1);
        if (_cw > _mw || _cw == 0)
            _cw = _mw;
        else if (_di > 1)
            _cw = _cw / _di * _di + 1;
    }

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs)
    {
        var dests = _dests;
        int n = dests.Length;
        int dest = _cl;
        if (_mw == 0)
            return null; // no dest has a positive weight

        int last = dest;
        int stop = int.MinValue;
        bool lastPass = false, restarted = false;
        while (true)
        {
            for (dest++; dest < n; dest++)
            {
                var d = dests[dest];
                if (!d.IsOverloaded && d.Weight >= _cw)
                {
                    _cl = dest;
                    return d;
                }
                if (dest == stop)
                {
                    _cl = dest;
                    return null;
                }
            }
            dest = Head;
            _cw -= _di;
            if (_cw <= 0)
            {
                _cw = _mw;
                // Stop if the last pass (cw reached 1 for every dest) is done, or it started at the head.
                if (lastPass || last == Head)
                {
                    _cl = Head;
                    return null;
                }
                restarted = true;
            }
            lastPass = _cw <= _di;
            if (lastPass && restarted && last != Head)
                stop = last; // the first pass with w >= 1 only covered the dests after `last`
        }
    }

    private static int GcdWeight(RealServer[] dests)
    {
        int g = 0;
        foreach (var d in dests)
        {
            int w = d.Weight;
            if (w > 0)
                g = g > 0 ? Gcd(w, g) : w;
        }
        return g > 0 ? g : 1;
    }

    private static int MaxWeight(RealServer[] dests)
    {
        int max = 0;
        foreach (var d in dests)
            max = Math.Max(max, d.Weight);
        return max;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
            (a, b) = (b, a % b);
        return a;
    }
}
