namespace Fulcrum.Balancing;

/// <summary>
/// What the kernel tier forwarded for one connection since it was installed: packets, bytes (IP length,
/// as ip_vs_in_stats counts), how long ago its last packet passed (-1 when none did) and, for TCP, the IPVS
/// state its forwarded segments moved it to; <see cref="DestId"/> is the real server whose counts its entry moves
/// (<see cref="RealServer.KernelId"/>; 0 when not read from an entry).
/// </summary>
public readonly record struct KernelFlowCounters(long Packets, long Bytes, long IdleMs, IpvsTcpState State = IpvsTcpState.None, uint DestId = 0);

/// <summary>
/// A kernel fast path that forwards established connections without the C# data plane (design.md, "Tiers,
/// one semantics"). The <see cref="Balancer"/> calls it from its worker thread: <see cref="Install"/> at a
/// TCP connection's SYN (or once ESTABLISHED) or a UDP connection's first packet, <see cref="Remove"/>
/// when it leaves SYN_RECV and ESTABLISHED, expires or is removed, and <see cref="TryRead"/> to fold counters,
/// state and the last-seen time back into the connection table. Keys are host order, as in the connection table.
/// </summary>
public interface IKernelFastPath
{
    /// <summary>
    /// Forwards the connection's packets to <paramref name="destMac"/> from now on, a TCP one from <paramref name="state"/>
    /// (the kernel moves it along the INPUT-ONLY ack and fin rows); false when the kernel refused.
    /// </summary>
    bool Install(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, ulong destMac, IpvsTcpState state, uint destId);

    /// <summary>
    /// Adds <paramref name="active"/> and <paramref name="inactive"/> to real server <paramref name="destId"/>'s counts the
    /// kernel's least-connection picks read (fulcrum_dest_conns): every ActiveConn/InActConn move this tier makes itself.
    /// A fold of a move the kernel made (it counted it already) is not passed on.
    /// </summary>
    void MoveConns(uint destId, int active, int inactive);

    /// <summary>What the kernel forwarded for the connection since <see cref="Install"/>; false when it holds no entry.</summary>
    bool TryRead(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, out KernelFlowCounters counters);

    /// <summary>Stops forwarding the connection in the kernel and returns its final counters; false when it held no entry.</summary>
    bool Remove(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, out KernelFlowCounters counters);

    /// <summary>
    /// Hands <paramref name="sink"/> every event of the kernel tier since the last call (connections it scheduled,
    /// handed back or reused); returns how many. Without event rings, always 0: the balancer's sweep reads the
    /// entries' states itself and the kernel schedules nothing.
    /// </summary>
    int DrainEvents(IKernelEvents sink);
}

/// <summary>What a worker learns from the kernel tier's events (see <see cref="IKernelFastPath.DrainEvents"/>).</summary>
public interface IKernelEvents
{
    /// <summary>
    /// A segment forwarded in the kernel moved the connection's state: a FIN out of SYN_RECV/ESTABLISHED (handed back:
    /// its entry stays as a marker, its next segments come up here) or a SYN reusing a closing connection in place
    /// (SYN_RECV, held by the kernel again). <paramref name="counters"/> are the entry's totals since it was written.
    /// </summary>
    void StateChanged(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, in KernelFlowCounters counters);

    /// <summary>
    /// The kernel scheduled a new TCP connection (a published service's SYN) on real server
    /// <paramref name="destAddress"/>:<paramref name="destPort"/> <paramref name="idleMs"/> ago and holds it in SYN_RECV.
    /// </summary>
    void Scheduled(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, uint destAddress, ushort destPort, long idleMs);
}
