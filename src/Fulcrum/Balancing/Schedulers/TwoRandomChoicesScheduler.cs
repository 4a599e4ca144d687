using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// ip_vs_twos.c (power of two choices): two weighted random draws r1, r2 in [0, total weight] pick
/// choice1 and choice2 (the first dest where the running r - weight reaches &lt;= 0); choice2 wins only when
/// its overhead/weight is strictly lower. Overloaded and weight-0 dests take no part. The kernel draws
/// get_random_u32(); each worker here has its own generator, so the sequence is the kernel's algorithm
/// over a different random stream.
/// </summary>
internal sealed class TwoRandomChoicesScheduler : IScheduler
{
    private readonly Random _random;
    private RealServer[] _dests = [];

    public TwoRandomChoicesScheduler()
        : this(new Random())
    {
    }

    /// <summary>With a given generator, so tests can replay the draws.</summary>
    internal TwoRandomChoicesScheduler(Random random) => _random = random;

    public string Name => "twos";

    public RealServer[] Bound => _dests;

    public void Update(DestSet set) => _dests = set.Dests;

    /// <summary>get_random_u32().</summary>
    internal static uint NextU32(Random random) => (uint)random.NextInt64(0, 1L << 32);

    public RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs)
    {
        var dests = _dests;
        RealServer? choice1 = null, choice2 = null;
        long totalWeight = 0;
        foreach (var d in dests)
        {
            if (d.IsOverloaded)
                continue;
            int w = d.Weight;
            if (w > 0)
            {
                totalWeight += w;
                choice1 = d;
            }
        }
        if (choice1 is null)
            return null;

        // +1 makes the draws inclusive of total_weight, as the kernel does.
        totalWeight += 1;
        long r1 = NextU32(_random) % totalWeight;
        long r2 = NextU32(_random) % totalWeight;
        long weight1 = -1, weight2 = -1, overhead1 = 0, overhead2 = 0;
        foreach (var d in dests)
        {
            if (d.IsOverloaded)
                continue;
            int w = d.Weight;
            if (w <= 0)
                continue;
            r1 -= w;
            r2 -= w;
            if (r1 <= 0 && weight1 == -1)
            {
                choice1 = d;
                weight1 = w;
                overhead1 = d.Overhead;
            }
            if (r2 <= 0 && weight2 == -1)
            {
                choice2 = d;
                weight2 = w;
                overhead2 = d.Overhead;
            }
            if (weight1 != -1 && weight2 != -1)
                break;
        }
        if (choice2 is not null && weight2 * overhead1 > weight1 * overhead2)
            choice1 = choice2;
        return choice1;
    }
}
