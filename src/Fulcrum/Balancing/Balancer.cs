using System.Buffers.Binary;
using System.Net;
using Fulcrum.Packets;

namespace Fulcrum.Balancing;

/// <summary>What <see cref="Balancer.Process"/> decided for one packet.</summary>
public enum BalanceVerdict : byte
{
    /// <summary>No virtual service matches (protocol, destination address, destination port): not ours.</summary>
    NotService,
    /// <summary>Send to the real server returned in <c>dest</c>.</summary>
    Forward,
    /// <summary>Drop, counted under the returned <see cref="DropReason"/>.</summary>
    Drop,
}

/// <summary>
/// One worker's balancer: owns a connection table and runs the client-to-server half of ip_vs_in for
/// each packet. Single-threaded: only its worker calls <see cref="Process(ref ParsedPacket, long, out RealServer?, out DropReason)"/>
/// and <see cref="Expire"/>. Never locks and never allocates per packet or per connection.
/// </summary>
public sealed class Balancer
{
    private readonly IpvsTable _table;
    private readonly ConnectionTable _conns;
    private int _cursor;

    internal Balancer(IpvsTable table, int index, int capacity)
    {
        _table = table;
        Index = index;
        _conns = new ConnectionTable(capacity);
    }

    /// <summary>The worker index: which slot of every per-worker counter array this balancer writes.</summary>
    public int Index { get; }

    /// <summary>Connections in the table now.</summary>
    public int Count => _conns.Count;

    /// <summary>The table's bound (maxConnectionsPerWorker).</summary>
    public int Capacity => _conns.Capacity;

    /// <summary>
    /// Balances one IPv4 TCP/UDP packet. Reads the published <see cref="ServiceSnapshot"/> once per call;
    /// <paramref name="nowMs"/> is <see cref="IpvsTable.NowMs"/> (the worker may read it once per batch).
    /// </summary>
    public BalanceVerdict Process(ref ParsedPacket packet, long nowMs, out RealServer? dest, out DropReason reason) =>
        Process(_table.Snapshot, ref packet, nowMs, out dest, out reason);

    /// <summary>As the other overload, with a snapshot the worker read once for a whole batch.</summary>
    public BalanceVerdict Process(ServiceSnapshot snapshot, ref ParsedPacket packet, long nowMs, out RealServer? dest, out DropReason reason)
    {
        dest = null;
        reason = DropReason.None;
        var svc = snapshot.Find(packet.Protocol, packet.DestinationAddress, packet.DestinationPort);
        if (svc is null)
            return BalanceVerdict.NotService;

        bool tcp = packet.Protocol == (byte)IpProtocol.Tcp;
        byte flags = packet.TcpFlags;
        int bucket = _conns.Bucket(packet.Protocol, packet.SourceAddress, packet.SourcePort, packet.DestinationAddress, packet.DestinationPort);
        int index = _conns.Find(bucket, packet.Protocol, packet.SourceAddress, packet.SourcePort, packet.DestinationAddress, packet.DestinationPort);
        if (index >= 0)
        {
            ref var c = ref _conns.At(index);
            if (c.ExpiresMs <= nowMs)
            {
                // Its timer has fired; the sweep just has not reached it yet.
                Unbind(index);
                index = -1;
            }
            else if (tcp && (flags & TcpStateMachine.Syn) != 0 &&
                     c.State is IpvsTcpState.TimeWait or IpvsTcpState.Close)
            {
                // conn_reuse_mode 1 (is_new_conn_expected): a SYN reusing a closing connection's ports
                // expires the old one and is scheduled afresh.
                Unbind(index);
                index = -1;
            }
        }

        if (index >= 0)
        {
            ref var c = ref _conns.At(index);
            if (tcp)
                SetTcpState(ref c, flags, snapshot, nowMs);
            else
                c.ExpiresMs = nowMs + snapshot.UdpTimeoutMs;
            dest = c.Dest!;
            CountIn(dest, c.Service!, packet.IpLength);
            return BalanceVerdict.Forward;
        }

        // tcp_conn_schedule: only a SYN without RST starts a connection (sysctl sloppy_tcp = 0).
        if (tcp && ((flags & TcpStateMachine.Rst) != 0 || (flags & TcpStateMachine.Syn) == 0))
        {
            reason = DropReason.NotSyn;
            return BalanceVerdict.Drop;
        }
        // ipvsadm -o (IP_VS_SVC_F_ONEPACKET) on UDP: every datagram is scheduled on its own and its
        // connection dies with it, so no entry is kept (the kernel never hashes ONE_PACKET connections).
        bool onePacket = !tcp && svc.OnePacket;
        if (!onePacket && _conns.IsFull)
        {
            reason = DropReason.TableFull;
            return BalanceVerdict.Drop;
        }

        var scheduler = svc.SchedulerFor(Index);
        var set = svc.DestSet;
        if (!ReferenceEquals(scheduler.Bound, set.Dests))
            scheduler.Update(set);
        var picked = scheduler.Pick(svc, in packet, nowMs);
        if (picked is null)
        {
            reason = DropReason.NoRealServer;
            return BalanceVerdict.Drop;
        }

        if (onePacket)
        {
            picked.Counters.Slot(Index).Conns++;
            svc.Counters.Slot(Index).Conns++;
            CountIn(picked, svc, packet.IpLength);
            dest = picked;
            return BalanceVerdict.Forward;
        }

        index = _conns.Add(bucket, packet.Protocol, packet.SourceAddress, packet.SourcePort, packet.DestinationAddress, packet.DestinationPort);
        ref var n = ref _conns.At(index);
        n.Dest = picked;
        n.Service = svc;
        // __ip_vs_update_dest: every dest's connections start INACTIVE; non-NAT ones are NOOUTPUT.
        n.Flags |= ConnectionFlags.Inactive;
        if (picked.Method != ForwardingMethod.Masquerade)
            n.Flags |= ConnectionFlags.NoOutput;

        // ip_vs_bind_dest and ip_vs_conn_stats.
        ref var dc = ref picked.Counters.Slot(Index);
        dc.InactiveConns++;
        dc.Conns++;
        svc.Counters.Slot(Index).Conns++;
        if (picked.UpperThreshold != 0)
            picked.CheckOverloadAfterBind();

        if (tcp)
            SetTcpState(ref n, flags, snapshot, nowMs);
        else
            n.ExpiresMs = nowMs + snapshot.UdpTimeoutMs;
        CountIn(picked, svc, packet.IpLength);
        dest = picked;
        return BalanceVerdict.Forward;
    }

    /// <summary>
    /// Removes expired connections, examining at most <paramref name="budget"/> slots from where the last
    /// call stopped (one full sweep at most), and releases their counters. Returns how many it removed.
    /// </summary>
    public int Expire(long nowMs, int budget)
    {
        int highWater = _conns.HighWater;
        int limit = Math.Min(budget, highWater);
        int removed = 0;
        for (int examined = 0; examined < limit; examined++)
        {
            if (_cursor >= highWater)
                _cursor = 0;
            ref var c = ref _conns.At(_cursor);
            if ((c.Flags & ConnectionFlags.InUse) != 0 && c.ExpiresMs <= nowMs)
            {
                Unbind(_cursor);
                removed++;
            }
            _cursor++;
        }
        return removed;
    }

    /// <summary>set_tcp_state: next state from the client's flags, ActiveConn/InActConn moves, new timeout.</summary>
    private void SetTcpState(ref Connection c, byte flags, ServiceSnapshot snapshot, long nowMs)
    {
        var next = TcpStateMachine.Next(c.State, flags, (c.Flags & ConnectionFlags.NoOutput) != 0);
        if (next != c.State)
        {
            ref var dc = ref c.Dest!.Counters.Slot(Index);
            bool inactive = (c.Flags & ConnectionFlags.Inactive) != 0;
            bool active = TcpStateMachine.IsActive(next);
            if (!inactive && !active)
            {
                dc.ActiveConns--;
                dc.InactiveConns++;
                c.Flags |= ConnectionFlags.Inactive;
            }
            else if (inactive && active)
            {
                dc.ActiveConns++;
                dc.InactiveConns--;
                c.Flags &= ~ConnectionFlags.Inactive;
            }
            c.State = next;
        }
        c.ExpiresMs = nowMs + snapshot.TcpTimeoutMs(next);
    }

    /// <summary>ip_vs_in_stats: only while the dest is still linked to its service (IP_VS_DEST_F_AVAILABLE).</summary>
    private void CountIn(RealServer dest, VirtualService svc, int bytes)
    {
        if (!dest.IsAvailable)
            return;
        ref var dc = ref dest.Counters.Slot(Index);
        dc.InPackets++;
        dc.InBytes += bytes;
        ref var sc = ref svc.Counters.Slot(Index);
        sc.InPackets++;
        sc.InBytes += bytes;
    }

    /// <summary>ip_vs_unbind_dest and the entry's removal.</summary>
    private void Unbind(int index)
    {
        ref var c = ref _conns.At(index);
        var dest = c.Dest!;
        ref var dc = ref dest.Counters.Slot(Index);
        if ((c.Flags & ConnectionFlags.Inactive) != 0)
            dc.InactiveConns--;
        else
            dc.ActiveConns--;
        if (dest.IsOverloaded)
            dest.CheckOverloadAfterUnbind();
        _conns.Remove(index);
    }

    /// <summary>Appends the live connections for a listing (control plane; a racy but memory-safe read).</summary>
    internal void Collect(List<ConnectionInfo> into, long nowMs)
    {
        int highWater = _conns.HighWater;
        for (int i = 0; i < highWater; i++)
        {
            var c = _conns.At(i);
            var dest = c.Dest;
            if ((c.Flags & ConnectionFlags.InUse) == 0 || dest is null || c.ExpiresMs <= nowMs)
                continue;
            bool tcp = c.Protocol == (byte)IpProtocol.Tcp;
            into.Add(new ConnectionInfo(
                (IpProtocol)c.Protocol,
                ToAddress(c.ClientAddress),
                c.ClientPort,
                ToAddress(c.VirtualAddress),
                c.VirtualPort,
                dest.Address,
                dest.Port,
                tcp ? TcpStateMachine.Name(c.State) : "UDP",
                (uint)((c.ExpiresMs - nowMs) / 1000)));
        }
    }

    internal static IPAddress ToAddress(uint hostOrder)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, hostOrder);
        return new IPAddress(b);
    }
}
