using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// ip_vs_rr.c: continue after the last dest picked, wrapping once, skipping weight-0 and overloaded dests.
/// The position is the last dest picked (-1 = the list head), so an added dest does not move it.
/// </summary>
internal sealed class RoundRobinScheduler : IScheduler
{
    private RealServer[] _dests = [];
    private int _last = -1;

    public string Name => "rr";

    public RealServer[] Bound => _dests;

    public void Update(DestSet set)
    {
        var dests = set.Dests;
        if (_last >= 0)
        {
            int idx = Array.IndexOf(dests, _dests[_last]);
            // ip_vs_rr_del_dest: when the current dest goes, continue from the entry before it.
            for (int i = _last - 1; idx < 0 && i >= 0; i--)
                idx = Array.IndexOf(dests, _dests[i]);
            _last = idx;
        }
        _dests = dests;
    }

    /// <summary>Continues the round after <paramref name="last"/> (the head when it is not in the list), as if it had just picked it.</summary>
    internal void ContinueAfter(RealServer? last) => _last = last is null ? -1 : Array.IndexOf(_dests, last);

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs)
    {
        var dests = _dests;
        int n = dests.Length;
        int start = _last;
        // Entries after `last` to the end, then from the head up to `last` itself: each dest checked once.
        for (int k = 1; k <= n; k++)
        {
            int i = start + k;
            if (i >= n)
                i -= n;
            var d = dests[i];
            if (!d.IsOverloaded && d.Weight > 0)
            {
                _last = i;
                return d;
            }
        }
        return null;
    }
}
