using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// A scheduler (the kernel's struct ip_vs_scheduler). Each worker owns its own instance per service, so
/// the state rr and wrr advance is never shared between threads. The instance adapts to a new dest list
/// lazily, on its own worker, the first time it sees one (the kernel's add_dest/del_dest/upd_dest hooks);
/// lookup tables (dh/sh buckets, the Maglev ring) come built with the list, by the control plane.
/// </summary>
internal interface IScheduler
{
    string Name { get; }

    /// <summary>The dest list (scheduling order) the instance last adapted to.</summary>
    RealServer[] Bound { get; }

    /// <summary>Adapts to a changed dest list. Every dest add, delete or edit yields a new set.</summary>
    void Update(DestSet set);

    /// <summary>
    /// Picks a dest for a new connection, or null when none is usable (weight 0 or overloaded).
    /// <paramref name="nowMs"/> is the worker's clock (lblc/lblcr age their caches with it).
    /// </summary>
    RealServer? Pick(VirtualService service, in ParsedPacket packet, long nowMs);
}

/// <summary>
/// The dests in the kernel's list order with the lookup table the service's scheduler derives from them,
/// published together so a worker never pairs a list with another list's table.
/// </summary>
internal sealed class DestSet
{
    public static readonly DestSet Empty = new([], null);

    public DestSet(RealServer[] dests, object? table)
    {
        Dests = dests;
        Table = table;
    }

    public RealServer[] Dests { get; }

    /// <summary>The scheduler's table (built by <see cref="SchedulerFactory.BuildTable"/>), or null when it has none.</summary>
    public object? Table { get; }
}

internal static class SchedulerFactory
{
    /// <summary>True for the schedulers this build implements; others make AddService/EditService fail with ENOENT.</summary>
    public static bool IsKnown(string name) => name is "rr" or "wrr" or "lc" or "wlc" or "sed" or "nq" or "dh" or "sh"
        or "lblc" or "lblcr" or "mh" or "fo" or "ovf" or "twos";

    public static IScheduler Create(string name) => name switch
    {
        "rr" => new RoundRobinScheduler(),
        "wrr" => new WeightedRoundRobinScheduler(),
        "lc" => new LeastConnectionScheduler(),
        "wlc" => new WeightedLeastConnectionScheduler(),
        "sed" => new ShortestExpectedDelayScheduler(),
        "nq" => new NeverQueueScheduler(),
        "dh" => new DestinationHashingScheduler(),
        "sh" => new SourceHashingScheduler(),
        "lblc" => new LocalityBasedLeastConnectionScheduler(),
        "lblcr" => new LocalityBasedLeastConnectionReplicationScheduler(),
        "mh" => new MaglevHashingScheduler(),
        "fo" => new WeightedFailoverScheduler(),
        "ovf" => new WeightedOverflowScheduler(),
        "twos" => new TwoRandomChoicesScheduler(),
        _ => throw new ArgumentException($"unknown scheduler '{name}'", nameof(name)),
    };

    /// <summary>
    /// The lookup table a scheduler indexes, built in the control plane whenever the dest list or a weight
    /// changes (the kernel rebuilds it in the same hooks); null for schedulers that walk the list.
    /// </summary>
    public static object? BuildTable(string name, RealServer[] dests) => name switch
    {
        "dh" => DestinationHashingScheduler.BuildTable(dests),
        "sh" => SourceHashingScheduler.BuildTable(dests),
        "mh" => MaglevTable.Build(dests),
        _ => null,
    };
}
