using Fulcrum.Packets;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>
/// A scheduler (the kernel's struct ip_vs_scheduler). Each worker owns its own instance per service, so
/// the state rr and wrr advance is never shared between threads. The instance adapts to a new dest list
/// lazily, on its own worker, the first time it sees one (the kernel's add_dest/del_dest/upd_dest hooks).
/// </summary>
internal interface IScheduler
{
    string Name { get; }

    /// <summary>The dest list (scheduling order) the instance last adapted to.</summary>
    RealServer[] Bound { get; }

    /// <summary>Adapts to a changed dest list. Every dest add, delete or edit yields a new array.</summary>
    void Update(RealServer[] dests);

    /// <summary>Picks a dest for a new connection, or null when none is usable (weight 0 or overloaded).</summary>
    RealServer? Pick(VirtualService service, in ParsedPacket packet);
}

internal static class SchedulerFactory
{
    /// <summary>True for the schedulers this build implements; others make AddService/EditService fail with ENOENT.</summary>
    public static bool IsKnown(string name) => name is "rr" or "wrr" or "wlc";

    public static IScheduler Create(string name) => name switch
    {
        "rr" => new RoundRobinScheduler(),
        "wrr" => new WeightedRoundRobinScheduler(),
        "wlc" => new WeightedLeastConnectionScheduler(),
        _ => throw new ArgumentException($"unknown scheduler '{name}'", nameof(name)),
    };
}
