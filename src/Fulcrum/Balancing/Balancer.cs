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

    /// <summary>
    /// The kernel tier, or null when this worker forwards everything itself. Set before the worker runs;
    /// called only from the worker's thread.
    /// </summary>
    public IKernelFastPath? FastPath { get; set; }

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
            if (c.ExpiresMs <= nowMs && (c.Flags & ConnectionFlags.InKernel) != 0)
            {
                // Its timer only moves when the sweep folds the kernel's last-seen in: do that first.
                if (FastPath!.TryRead(c.Protocol, c.ClientAddress, c.ClientPort, c.VirtualAddress, c.VirtualPort, out var k))
                    Fold(ref c, k, snapshot, nowMs);
            }
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
            if (FastPath is not null)
                SyncKernel(ref c, tcp, snapshot, nowMs);
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

        var spec = svc.Spec;
        int template = -1;
        RealServer? picked;
        if (spec.Persistent)
        {
            picked = SchedulePersistent(svc, spec, in packet, nowMs, onePacket, out template, out reason);
            if (picked is null)
                return BalanceVerdict.Drop;
        }
        else
        {
            picked = Schedule(svc, in packet, nowMs);
            if (picked is null)
            {
                reason = DropReason.NoRealServer;
                return BalanceVerdict.Drop;
            }
        }

        if (onePacket)
        {
            // The one-packet connection is controlled by the template only for its own lifetime: no trace.
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
        if (template >= 0)
        {
            // ip_vs_control_add: the template lives as long as the connections it controls.
            n.Control = template;
            _conns.At(template).Controlled++;
        }
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
        if (FastPath is not null)
            SyncKernel(ref n, tcp, snapshot, nowMs);
        return BalanceVerdict.Forward;
    }

    /// <summary>
    /// Hands an ESTABLISHED TCP connection (or a UDP one, after its first datagram) to the kernel tier and
    /// takes it back when it leaves ESTABLISHED. The kernel sends every SYN, FIN and RST up, and in the
    /// INPUT-ONLY table only those move a connection out of ESTABLISHED, so the state machine stays exact.
    /// </summary>
    private void SyncKernel(ref Connection c, bool tcp, ServiceSnapshot snapshot, long nowMs)
    {
        bool want = (!tcp || c.State == IpvsTcpState.Established) && c.Dest!.Mac != 0;
        bool has = (c.Flags & ConnectionFlags.InKernel) != 0;
        if (want == has)
            return;
        if (!want)
        {
            Unload(ref c, snapshot, nowMs);
        }
        else if (FastPath!.Install(c.Protocol, c.ClientAddress, c.ClientPort, c.VirtualAddress, c.VirtualPort, c.Dest!.Mac))
        {
            c.Flags |= ConnectionFlags.InKernel;
            c.KernelPackets = 0;
            c.KernelBytes = 0;
        }
    }

    /// <summary>Removes the connection's kernel entry and folds its last counts in.</summary>
    private void Unload(ref Connection c, ServiceSnapshot snapshot, long nowMs)
    {
        if (FastPath!.Remove(c.Protocol, c.ClientAddress, c.ClientPort, c.VirtualAddress, c.VirtualPort, out var k))
            Fold(ref c, k, snapshot, nowMs);
        c.Flags &= ~ConnectionFlags.InKernel;
    }

    /// <summary>
    /// Adds what the kernel forwarded since the last fold to the counters (ip_vs_in_stats, only while the dest
    /// is available) and restarts the connection's timer from its last kernel-forwarded packet, as each
    /// packet through ip_vs_in would have.
    /// </summary>
    private void Fold(ref Connection c, in KernelFlowCounters k, ServiceSnapshot snapshot, long nowMs)
    {
        long packets = k.Packets - c.KernelPackets;
        if (packets <= 0)
            return;
        long bytes = k.Bytes - c.KernelBytes;
        c.KernelPackets = k.Packets;
        c.KernelBytes = k.Bytes;
        var dest = c.Dest!;
        if (dest.IsAvailable)
        {
            ref var dc = ref dest.Counters.Slot(Index);
            dc.InPackets += packets;
            dc.InBytes += bytes;
            ref var sc = ref c.Service!.Counters.Slot(Index);
            sc.InPackets += packets;
            sc.InBytes += bytes;
        }

        long timeout = c.Protocol == (byte)IpProtocol.Tcp ? snapshot.TcpTimeoutMs(c.State) : snapshot.UdpTimeoutMs;
        long expires = nowMs - Math.Max(0, k.IdleMs) + timeout;
        if (expires > c.ExpiresMs)
            c.ExpiresMs = expires;
    }

    private RealServer? Schedule(VirtualService svc, in ParsedPacket packet, long nowMs)
    {
        var scheduler = svc.SchedulerFor(Index);
        var set = svc.DestSet;
        if (!ReferenceEquals(scheduler.Bound, set.Dests))
            scheduler.Update(set);
        return scheduler.Pick(svc, in packet, nowMs);
    }

    /// <summary>
    /// ip_vs_sched_persist for an IPv4 service with a port: the template &lt;protocol, client &amp; netmask, 0,
    /// VIP, port&gt; (port 0 for FTP's port 21, so its data connections follow) picks the dest while it is
    /// valid (ip_vs_check_template: the dest still in the service and, only with expire_quiescent_template,
    /// weight &gt; 0); otherwise the scheduler picks and a new template records the choice. Every use restarts
    /// the template's timer with its timeout. Templates are per worker, like connections.
    /// </summary>
    private RealServer? SchedulePersistent(VirtualService svc, ServiceSpec spec, in ParsedPacket packet, long nowMs,
        bool onePacket, out int template, out DropReason reason)
    {
        reason = DropReason.None;
        int prefix = spec.NetmaskPrefix;
        uint mask = prefix <= 0 ? 0u : prefix >= 32 ? uint.MaxValue : uint.MaxValue << (32 - prefix);
        uint snet = packet.SourceAddress & mask;
        ushort tport = svc.Port == FtpPort ? (ushort)0 : packet.DestinationPort;
        uint vip = packet.DestinationAddress;
        byte proto = packet.Protocol;
        int tb = _conns.Bucket(proto, snet, 0, vip, tport);
        template = _conns.Find(tb, proto, snet, 0, vip, tport, template: true);
        if (template >= 0)
        {
            ref var t = ref _conns.At(template);
            if (t.ExpiresMs <= nowMs && !ExpireTemplate(template, nowMs))
                template = -1; // its timer fired: gone
            else if (!CheckTemplate(template))
                template = -1;
        }

        RealServer? dest;
        if (template < 0)
        {
            if (_conns.Count + (onePacket ? 1 : 2) > _conns.Capacity)
            {
                reason = DropReason.TableFull;
                return null;
            }
            dest = Schedule(svc, in packet, nowMs);
            if (dest is null)
            {
                reason = DropReason.NoRealServer;
                return null;
            }
            template = _conns.Add(tb, proto, snet, 0, vip, tport);
            ref var t = ref _conns.At(template);
            t.Flags |= ConnectionFlags.Template;
            t.Dest = dest;
            t.Service = svc;
            t.TimeoutMs = spec.PersistenceTimeout * 1000L;
            // ip_vs_bind_dest for a template: counted in PersistConn, not in ActiveConn/InActConn.
            dest.Counters.Slot(Index).PersistentConns++;
            if (dest.UpperThreshold != 0)
                dest.CheckOverloadAfterBind();
        }
        else
        {
            dest = _conns.At(template).Dest!;
        }

        // ip_vs_conn_put on the template: its timer restarts.
        ref var tt = ref _conns.At(template);
        tt.ExpiresMs = nowMs + tt.TimeoutMs;
        return dest;
    }

    private const ushort FtpPort = 21;

    /// <summary>
    /// ip_vs_check_template: a template whose dest left the service (or, with expire_quiescent_template,
    /// was quiesced) is taken out of lookups (rehashed with ports 0xffff) and left to expire.
    /// </summary>
    private bool CheckTemplate(int index)
    {
        ref var t = ref _conns.At(index);
        var d = t.Dest;
        if (d is not null && d.IsAvailable && !(_table.ExpireQuiescentTemplate && d.Weight == 0))
            return true;
        if (t.VirtualPort != 0xFFFF)
            _conns.Rekey(index, 0, 0xFFFF);
        return false;
    }

    /// <summary>
    /// ip_vs_conn_expire for a template whose timer fired: removed when it controls no connection, else
    /// retried in 60 s (and its timeout becomes 60 s). Returns true when it is still there.
    /// </summary>
    private bool ExpireTemplate(int index, long nowMs)
    {
        ref var t = ref _conns.At(index);
        if (t.Controlled > 0)
        {
            t.TimeoutMs = TemplateRetryMs;
            t.ExpiresMs = nowMs + TemplateRetryMs;
            return true;
        }
        Unbind(index);
        return false;
    }

    private const long TemplateRetryMs = 60_000;

    /// <summary>
    /// Removes expired connections, examining at most <paramref name="budget"/> slots from where the last
    /// call stopped (one full sweep at most), and releases their counters. Returns how many it removed.
    /// </summary>
    public int Expire(long nowMs, int budget)
    {
        int highWater = _conns.HighWater;
        int limit = Math.Min(budget, highWater);
        int removed = 0;
        var snapshot = _table.Snapshot;
        for (int examined = 0; examined < limit; examined++)
        {
            if (_cursor >= highWater)
                _cursor = 0;
            ref var c = ref _conns.At(_cursor);
            if ((c.Flags & ConnectionFlags.InKernel) != 0)
            {
                // The kernel forwarded its packets: fold counters and last-seen in before judging its timer.
                if (FastPath!.TryRead(c.Protocol, c.ClientAddress, c.ClientPort, c.VirtualAddress, c.VirtualPort, out var k))
                    Fold(ref c, k, snapshot, nowMs);
                else
                    c.Flags &= ~ConnectionFlags.InKernel; // gone from the map (deleted outside): C# forwards it again
            }
            if ((c.Flags & ConnectionFlags.InUse) != 0 && c.ExpiresMs <= nowMs)
            {
                if ((c.Flags & ConnectionFlags.Template) == 0)
                {
                    Unbind(_cursor);
                    removed++;
                }
                else if (!ExpireTemplate(_cursor, nowMs))
                {
                    removed++;
                }
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
        if ((c.Flags & ConnectionFlags.InKernel) != 0)
            Unload(ref c, _table.Snapshot, _table.NowMs);
        var dest = c.Dest!;
        ref var dc = ref dest.Counters.Slot(Index);
        if ((c.Flags & ConnectionFlags.Template) != 0)
            dc.PersistentConns--;
        else if ((c.Flags & ConnectionFlags.Inactive) != 0)
            dc.InactiveConns--;
        else
            dc.ActiveConns--;
        if (c.Control >= 0)
            _conns.At(c.Control).Controlled--; // ip_vs_control_del
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
            bool template = (c.Flags & ConnectionFlags.Template) != 0;
            into.Add(new ConnectionInfo(
                (IpProtocol)c.Protocol,
                ToAddress(c.ClientAddress),
                c.ClientPort,
                ToAddress(c.VirtualAddress),
                c.VirtualPort,
                dest.Address,
                dest.Port,
                // /proc/net/ip_vs_conn names a template's state NONE (TCP) or UDP.
                template && tcp ? "NONE" : tcp ? TcpStateMachine.Name(c.State) : "UDP",
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
