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
public sealed class Balancer : IKernelEvents
{
    // Probes for an embryonic entry to recycle when the table is full under drop_entry.
    private const int EvictProbes = 16;

    private readonly IpvsTable _table;
    private readonly IpvsDefense _defense;
    private readonly ConnectionTable _conns;
    private int _cursor;
    private int _dropCounter;
    private int _dropRate;
    private ulong _random;
    private long _droppedEntries;

    internal Balancer(IpvsTable table, int index, int capacity)
    {
        _table = table;
        _defense = table.Defense;
        Index = index;
        _conns = new ConnectionTable(capacity);
        _random = (ulong)Random.Shared.NextInt64() | 1;
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

    /// <summary>Entries removed by the drop_entry defense (the random sweep and recycling on a full table).</summary>
    public long DroppedEntries => Volatile.Read(ref _droppedEntries);

    /// <summary>
    /// Balances one IPv4 or IPv6 TCP/UDP packet. Reads the published <see cref="ServiceSnapshot"/> once per call;
    /// <paramref name="nowMs"/> is <see cref="IpvsTable.NowMs"/> (the worker may read it once per batch).
    /// </summary>
    public BalanceVerdict Process(ref ParsedPacket packet, long nowMs, out RealServer? dest, out DropReason reason) =>
        Process(_table.Snapshot, ref packet, nowMs, out dest, out reason);

    /// <summary>As the other overload, with a snapshot the worker read once for a whole batch.</summary>
    public BalanceVerdict Process(ServiceSnapshot snapshot, ref ParsedPacket packet, long nowMs, out RealServer? dest, out DropReason reason)
    {
        dest = null;
        reason = DropReason.None;
        bool v6 = packet.IsIPv6;
        // ip_vs_service_find looks a marked packet up by its fwmark before its address (marks: IPv4 only).
        var svc = v6
            ? snapshot.Find6(packet.Protocol, packet.DestinationAddress6, packet.DestinationPort)
            : snapshot.FindMarked(packet.Protocol, packet.DestinationAddress, packet.DestinationPort)
              ?? snapshot.Find(packet.Protocol, packet.DestinationAddress, packet.DestinationPort);
        if (svc is null)
            return BalanceVerdict.NotService;

        bool tcp = packet.Protocol == (byte)IpProtocol.Tcp;
        byte flags = packet.TcpFlags;
        int bucket, index;
        if (v6)
        {
            bucket = _conns.Bucket6(packet.Protocol, packet.SourceAddress6, packet.SourcePort, packet.DestinationAddress6, packet.DestinationPort);
            index = _conns.Find6(bucket, packet.Protocol, packet.SourceAddress6, packet.SourcePort, packet.DestinationAddress6, packet.DestinationPort);
        }
        else
        {
            bucket = _conns.Bucket(packet.Protocol, packet.SourceAddress, packet.SourcePort, packet.DestinationAddress, packet.DestinationPort);
            index = _conns.Find(bucket, packet.Protocol, packet.SourceAddress, packet.SourcePort, packet.DestinationAddress, packet.DestinationPort);
        }
        if (index >= 0)
        {
            ref var c = ref _conns.At(index);
            if (c.ExpiresMs <= nowMs && (c.Flags & ConnectionFlags.InKernel) != 0)
            {
                // Its timer only moves when the sweep folds the kernel's last-seen in: do that first.
                if (FastPath!.TryRead(c.Protocol, c.ClientAddress, c.ClientPort, c.VirtualAddress, c.VirtualPort, out var k))
                    FoldKernel(index, k, snapshot, nowMs);
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

        // Connection sync: a miss may be a connection the MASTER synced to this director (a takeover).
        // Only a miss asks, so the established hot path is unchanged.
        var sync = _table.Sync;
        if (index < 0 && sync is not null)
            index = Adopt(sync, svc, in packet, bucket, tcp, flags, nowMs);

        if (index >= 0)
        {
            dest = Forward(index, tcp, flags, v6, packet.IpLength, snapshot, sync, nowMs);
            return BalanceVerdict.Forward;
        }

        // tcp_conn_schedule: only a SYN without RST starts a connection, unless sysctl sloppy_tcp lets any
        // non-RST segment start one (what lets mh/sh directors take over flows they never saw).
        if (tcp && ((flags & TcpStateMachine.Rst) != 0 || ((flags & TcpStateMachine.Syn) == 0 && !_table.SloppyTcp)))
        {
            reason = DropReason.NotSyn;
            return BalanceVerdict.Drop;
        }
        // drop_packet (ip_vs_todrop in tcp_conn_schedule/udp_conn_schedule): one in drop_rate of the
        // packets that would create a connection is dropped. The counter is per worker.
        if (ToDrop())
        {
            reason = DropReason.DefenseDropPacket;
            return BalanceVerdict.Drop;
        }

        // ipvsadm -o (IP_VS_SVC_F_ONEPACKET) on UDP: every datagram is scheduled on its own and its
        // connection dies with it, so no entry is kept (the kernel never hashes ONE_PACKET connections).
        bool onePacket = !tcp && svc.OnePacket;
        if (!onePacket && _conns.IsFull && !(_defense.DropEntryActive && EvictEmbryonic()))
        {
            reason = DropReason.TableFull;
            return BalanceVerdict.Drop;
        }

        var spec = svc.Spec;
        int template = -1;
        RealServer? picked;
        if (spec.Persistent)
        {
            picked = SchedulePersistent(svc, spec, in packet, nowMs, onePacket, sync, out template, out reason);
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

        index = v6
            ? _conns.Add6(bucket, packet.Protocol, packet.SourceAddress6, packet.SourcePort, packet.DestinationAddress6, packet.DestinationPort)
            : _conns.Add(bucket, packet.Protocol, packet.SourceAddress, packet.SourcePort, packet.DestinationAddress, packet.DestinationPort);
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
        ShareConns(picked, 0, 1);
        dc.Conns++;
        svc.Counters.Slot(Index).Conns++;
        if (picked.UpperThreshold != 0)
            picked.CheckOverloadAfterBind();

        dest = Forward(index, tcp, flags, v6, packet.IpLength, snapshot, sync, nowMs);
        return BalanceVerdict.Forward;
    }

    /// <summary>
    /// What every forwarded packet of a connection does, found or new: the state machine (TCP) or the
    /// timeout (UDP), the sync decision on a MASTER, ip_vs_in_stats, and the kernel tier's entry.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private RealServer Forward(int index, bool tcp, byte flags, bool v6, int ipLength, ServiceSnapshot snapshot, IConnectionSync? sync, long nowMs)
    {
        ref var c = ref _conns.At(index);
        // A segment of a kernel-held connection up here is a SYN or RST (or one that raced its entry): take the
        // entry back first, with the state the kernel's segments moved it to, and run this one from there;
        // SyncKernel below hands it back if it stays in SYN_RECV or ESTABLISHED.
        if (tcp && (c.Flags & ConnectionFlags.InKernel) != 0)
            Unload(index, snapshot, nowMs, publish: false);
        if (tcp)
            SetTcpState(ref c, flags, snapshot, nowMs);
        else
            c.ExpiresMs = nowMs + snapshot.UdpTimeoutMs;
        if (sync is { IsMaster: true })
            SyncConnection(sync, index, snapshot);
        var dest = c.Dest!;
        CountIn(dest, c.Service!, ipLength);
        // The kernel tier's map is keyed by IPv4 addresses; IPv6 flows stay on the C# path.
        if (FastPath is not null && !v6)
            SyncKernel(index, tcp, snapshot, nowMs);
        return dest;
    }

    // The kernel's defaults: sysctl sync_threshold 3, sync_period 50 (sync_refresh_period 0).
    private const int SyncThreshold = 3;
    private const int SyncPeriod = 50;

    /// <summary>
    /// ip_vs_sync_conn after each packet (ip_vs_in): counts the packet and publishes the connection when
    /// ip_vs_sync_conn_needed would, with the kernel's default sysctls. TCP: only in ESTABLISHED, FIN_WAIT,
    /// CLOSE, CLOSE_WAIT, TIME_WAIT; a change into any of them but ESTABLISHED is sent at once; otherwise
    /// (ESTABLISHED, UDP) on packets threshold, threshold + period, ... A connection's template goes
    /// with it (the kernel re-sends the template on every packet of a persistent connection; sending it
    /// with its connections carries the same information at a fraction of the rate).
    /// </summary>
    private void SyncConnection(IConnectionSync sync, int index, ServiceSnapshot snapshot)
    {
        ref var c = ref _conns.At(index);
        int pkts = ++c.InPackets;
        // Only IPv4 flows leave this path for the kernel tier (its map is keyed by IPv4 addresses).
        bool offloads = FastPath is not null && (c.Flags & ConnectionFlags.IPv6) == 0;
        if (c.Protocol == (byte)IpProtocol.Tcp)
        {
            if (c.State is not (IpvsTcpState.Established or IpvsTcpState.FinWait or IpvsTcpState.Close
                or IpvsTcpState.CloseWait or IpvsTcpState.TimeWait))
                return;
            // With the kernel tier (Linux/Bpf), entering ESTABLISHED is sent at once too, not at the 3rd
            // packet as the kernel does: the tier takes an established flow off this path right after the
            // handshake, so this may be the last packet of it the balancer sees.
            bool force = c.State != c.SyncedState && (c.State != IpvsTcpState.Established || offloads);
            if (!force && pkts % SyncPeriod != SyncThreshold)
                return;
        }
        else if (!(pkts == 1 && offloads) && pkts % SyncPeriod != SyncThreshold)
        {
            // UDP: with the kernel tier also its first datagram, for the same reason.
            return;
        }

        c.SyncedState = c.State;
        // A connection whose dest is of the other family (a TUN dest across families) cannot be expressed:
        // a v1 record has one type bit for its client, virtual and dest addresses alike.
        if (c.Dest!.IsIpv6 != ((c.Flags & ConnectionFlags.IPv6) != 0))
            return;
        var record = ToSynced(in c, index, snapshot);
        sync.Publish(Index, in record);
        if (c.Control >= 0)
        {
            var t = ToSynced(in _conns.At(c.Control), c.Control, snapshot);
            sync.Publish(Index, in t);
        }
    }

    /// <summary>An entry (<paramref name="c"/>, at <paramref name="index"/>) as a sync record; an IPv6 entry's addresses come from the side store.</summary>
    private SyncedConnection ToSynced(in Connection c, int index, ServiceSnapshot snapshot)
    {
        var dest = c.Dest!;
        bool v6 = (c.Flags & ConnectionFlags.IPv6) != 0;
        bool template = (c.Flags & ConnectionFlags.Template) != 0;
        bool tcp = c.Protocol == (byte)IpProtocol.Tcp;
        uint flags = (uint)dest.Method;
        if ((c.Flags & ConnectionFlags.NoOutput) != 0 || (template && dest.Method != ForwardingMethod.Masquerade))
            flags |= IpvsConnFlags.NoOutput;
        if ((c.Flags & ConnectionFlags.Inactive) != 0)
            flags |= IpvsConnFlags.Inactive;
        if (template)
            flags |= IpvsConnFlags.Template;
        long timeoutMs = template ? c.TimeoutMs : tcp ? snapshot.TcpTimeoutMs(c.State) : snapshot.UdpTimeoutMs;
        return new SyncedConnection
        {
            IsIpv6 = v6,
            Protocol = c.Protocol,
            Flags = flags,
            // A template's state is IP_VS_CTPL_S_NONE; UDP has the one state IP_VS_UDP_S_NORMAL (0).
            State = template || !tcp ? (ushort)0 : (ushort)c.State,
            ClientAddress = v6 ? _conns.Client6(index) : c.ClientAddress,
            ClientPort = c.ClientPort,
            VirtualAddress = v6 ? _conns.Virtual6(index) : c.VirtualAddress,
            VirtualPort = c.VirtualPort,
            DestAddress = v6 ? dest.Address6 : dest.Address4,
            DestPort = dest.Port,
            FwMark = c.Service!.Key.FwMark,
            TimeoutSeconds = (uint)(timeoutMs / 1000),
        };
    }

    /// <summary>
    /// ip_vs_proc_conn's result put to use: takes over a connection (IPv4 or IPv6) the MASTER synced, bound
    /// to the same dest (ip_vs_find_dest: family, address, port, service), with its synced state and counted
    /// as the kernel's ip_vs_bind_dest counts it. The caller then handles the packet as a hit. -1 when there
    /// is none, its dest is not in the service any more, or a SYN reuses a closing connection's ports.
    /// </summary>
    private int Adopt(IConnectionSync sync, VirtualService svc, in ParsedPacket packet, int bucket, bool tcp, byte flags, long nowMs)
    {
        bool v6 = packet.IsIPv6;
        var key = new ConnectionKey(v6, packet.Protocol, v6 ? packet.SourceAddress6 : packet.SourceAddress, packet.SourcePort,
            v6 ? packet.DestinationAddress6 : packet.DestinationAddress, packet.DestinationPort, Template: false);
        if (_conns.IsFull || !sync.TryImport(in key, nowMs, out var s))
            return -1;
        var state = tcp && s.State < TcpStateMachine.StateCount ? (IpvsTcpState)s.State : IpvsTcpState.None;
        if (tcp && (flags & TcpStateMachine.Syn) != 0 && state is IpvsTcpState.TimeWait or IpvsTcpState.Close)
            return -1;
        var dest = FindDest(svc, in s);
        if (dest is null)
            return -1;

        int index = _conns.Add(bucket, in key);
        ref var n = ref _conns.At(index);
        n.Dest = dest;
        n.Service = svc;
        n.State = state;
        n.SyncedState = state;
        n.InPackets = SyncThreshold; // ip_vs_proc_conn: atomic_set(&cp->in_pkts, sync_threshold)
        if (dest.Method != ForwardingMethod.Masquerade)
            n.Flags |= ConnectionFlags.NoOutput;
        ref var dc = ref dest.Counters.Slot(Index);
        if (tcp && TcpStateMachine.IsActive(state))
        {
            dc.ActiveConns++;
            ShareConns(dest, 1, 0);
        }
        else
        {
            n.Flags |= ConnectionFlags.Inactive;
            dc.InactiveConns++;
            ShareConns(dest, 0, 1);
        }
        if (dest.UpperThreshold != 0)
            dest.CheckOverloadAfterBind();
        sync.Adopted(in key);
        return index;
    }

    /// <summary>A synced persistence template taken over on a template miss, as <see cref="Adopt"/> does for connections.</summary>
    private int AdoptTemplate(IConnectionSync sync, VirtualService svc, in ConnectionKey key, int bucket, long nowMs)
    {
        if (_conns.IsFull || !sync.TryImport(in key, nowMs, out var s))
            return -1;
        var dest = FindDest(svc, in s);
        if (dest is null)
            return -1;
        int index = BindTemplate(bucket, in key, dest, svc,
            s.TimeoutSeconds != 0 ? s.TimeoutSeconds * 1000L : svc.Spec.PersistenceTimeout * 1000L, nowMs);
        sync.Adopted(in key);
        return index;
    }

    /// <summary>
    /// A new persistence template bound to <paramref name="dest"/> (a scheduled or an adopted one): ip_vs_bind_dest
    /// counts a template in PersistConn, not in ActiveConn/InActConn. The caller has checked there is room.
    /// </summary>
    private int BindTemplate(int bucket, in ConnectionKey key, RealServer dest, VirtualService svc, long timeoutMs, long nowMs)
    {
        int index = _conns.Add(bucket, in key);
        ref var t = ref _conns.At(index);
        t.Flags |= ConnectionFlags.Template;
        t.Dest = dest;
        t.Service = svc;
        t.TimeoutMs = timeoutMs;
        t.ExpiresMs = nowMs + timeoutMs;
        dest.Counters.Slot(Index).PersistentConns++;
        if (dest.UpperThreshold != 0)
            dest.CheckOverloadAfterBind();
        return index;
    }

    /// <summary>ip_vs_find_dest for a synced record: its family, address and port in the service's full list.</summary>
    private static RealServer? FindDest(VirtualService svc, in SyncedConnection s)
    {
        // The full list, weight 0 included: a quiesced dest keeps its connections (ip_vs_find_dest).
        var dests = svc.DestArray;
        for (int i = 0; i < dests.Length; i++)
        {
            var d = dests[i];
            if (d.Port == s.DestPort && d.IsIpv6 == s.IsIpv6 && (s.IsIpv6 ? d.Address6 == s.DestAddress : d.Address4 == (uint)s.DestAddress))
                return d;
        }
        return null;
    }

    /// <summary>
    /// Hands a TCP connection to the kernel tier from its SYN (SYN_RECV) or once ESTABLISHED, a UDP one after its
    /// first datagram. The kernel forwards the TCP segments without SYN and RST and moves the entry's state along
    /// the INPUT-ONLY ack and fin rows of ip_vs_proto_tcp.c as ip_vs_in would; SYNs and RSTs come up here
    /// (Forward takes the entry back first). The sweep folds the kernel's state in and takes a connection back
    /// once it has left SYN_RECV and ESTABLISHED (a FIN), so the map holds live connections only and the rest of
    /// a closing one is forwarded here. Holding it from the SYN spares the handshake's ACK, the request and the
    /// FIN a trip through this tier. While drop_entry defends against a SYN flood, or secure_tcp switches to the
    /// other table, a connection goes to the kernel only once ESTABLISHED, so spoofed SYNs cost no map entries.
    /// </summary>
    private void SyncKernel(int index, bool tcp, ServiceSnapshot snapshot, long nowMs)
    {
        ref var c = ref _conns.At(index);
        bool want = (!tcp || IsKernelHeld(c.State)) && c.Dest!.Mac != 0;
        bool has = (c.Flags & ConnectionFlags.InKernel) != 0;
        if (want == has)
            return;
        if (!want)
        {
            Unload(index, snapshot, nowMs);
        }
        else if (FastPath!.Install(c.Protocol, c.ClientAddress, c.ClientPort, c.VirtualAddress, c.VirtualPort, c.Dest!.Mac, tcp ? c.State : IpvsTcpState.None, c.Dest.KernelId))
        {
            // A fresh entry (over a marker, if there was one): its counts start at 0.
            c.Flags = (c.Flags | ConnectionFlags.InKernel) & ~ConnectionFlags.KernelMarker;
            c.KernelPackets = 0;
            c.KernelBytes = 0;
        }
    }

    /// <summary>The TCP states in which a connection is handed to (or left with) the kernel tier.</summary>
    private bool IsKernelHeld(IpvsTcpState state) =>
        state == IpvsTcpState.Established ||
        (state == IpvsTcpState.SynRecv && !_defense.DropEntryActive && !_defense.SecureTcpActive);

    /// <summary>Removes the connection's kernel entry and folds its last counts and state in.</summary>
    private void Unload(int index, ServiceSnapshot snapshot, long nowMs, bool publish = true)
    {
        ref var c = ref _conns.At(index);
        if (FastPath!.Remove(c.Protocol, c.ClientAddress, c.ClientPort, c.VirtualAddress, c.VirtualPort, out var k))
            FoldKernel(index, k, snapshot, nowMs, publish);
        c.Flags &= ~(ConnectionFlags.InKernel | ConnectionFlags.KernelMarker);
    }

    /// <summary>
    /// Applies the kernel tier's events since the last call: connections it scheduled (added here), handed back (a
    /// FIN moved them out of SYN_RECV/ESTABLISHED) or reused (a SYN on a FIN_WAIT marker). The worker calls it after
    /// each poll and before the first frame of a batch, so a frame never meets a state older than the kernel's.
    /// </summary>
    public void DrainKernel(long nowMs)
    {
        if (FastPath is null)
            return;
        _drainNowMs = nowMs;
        FastPath.DrainEvents(this);
    }

    private long _drainNowMs;

    void IKernelEvents.StateChanged(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, in KernelFlowCounters counters)
    {
        int bucket = _conns.Bucket(protocol, client, clientPort, vip, vport);
        int index = _conns.Find(bucket, protocol, client, clientPort, vip, vport);
        if (index < 0)
            return;
        ref var c = ref _conns.At(index);
        if ((c.Flags & (ConnectionFlags.InKernel | ConnectionFlags.KernelMarker)) == 0)
            return;
        FoldKernel(index, counters, _table.Snapshot, _drainNowMs);
        if (IsKernelHeld(c.State))
            c.Flags = (c.Flags | ConnectionFlags.InKernel) & ~ConnectionFlags.KernelMarker;
        else
            c.Flags = (c.Flags | ConnectionFlags.KernelMarker) & ~ConnectionFlags.InKernel;
    }

    /// <summary>
    /// A connection the kernel tier scheduled (ip_vs_schedule for a published service) joins this table as
    /// if this worker had: bound to its dest, counted, in SYN_RECV from its SYN's time, held by the kernel. When the
    /// service or dest is gone by now, or the table is full, the kernel's entry is removed: its next segment comes
    /// up here and meets what IPVS would (no connection: dropped, the client retries).
    /// </summary>
    void IKernelEvents.Scheduled(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, uint destAddress, ushort destPort, long idleMs)
    {
        var snapshot = _table.Snapshot;
        long nowMs = _drainNowMs;
        var svc = snapshot.Find(protocol, vip, vport);
        RealServer? dest = null;
        foreach (var d in svc?.DestArray ?? [])
        {
            if (!d.IsIpv6 && d.Address4 == destAddress && d.Port == destPort)
            {
                dest = d;
                break;
            }
        }

        int bucket = _conns.Bucket(protocol, client, clientPort, vip, vport);
        int existing = _conns.Find(bucket, protocol, client, clientPort, vip, vport);
        if (existing >= 0)
        {
            // A connection this tier forwarded without the kernel (no entry, so the program took the SYN for a new
            // one). ip_vs_in: in TIME_WAIT or CLOSE it expires and the SYN is scheduled afresh (the kernel's pick
            // stands); otherwise the SYN reuses it in place, on its own dest.
            ref var old = ref _conns.At(existing);
            if (old.State is IpvsTcpState.TimeWait or IpvsTcpState.Close)
            {
                Unbind(existing);
            }
            else
            {
                // The connection is counted here already: take back the program's count of its new entry, then hold
                // the connection as it is (its own dest and state).
                if (FastPath!.Remove(protocol, client, clientPort, vip, vport, out var k))
                    UnshareEntry(k);
                SetTcpState(ref old, TcpStateMachine.Syn, snapshot, nowMs);
                if (!ReferenceEquals(old.Dest, dest))
                    Volatile.Write(ref _kernelScheduleRefused, _kernelScheduleRefused + 1); // the SYN itself already went to the kernel's pick
                if (old.Dest!.Mac != 0 && FastPath.Install(protocol, client, clientPort, vip, vport, old.Dest.Mac, old.State, old.Dest.KernelId))
                {
                    old.Flags = (old.Flags | ConnectionFlags.InKernel) & ~ConnectionFlags.KernelMarker;
                    old.KernelPackets = 0;
                    old.KernelBytes = 0;
                }

                return;
            }
        }

        if (svc is null || dest is null || _conns.IsFull)
        {
            if (FastPath!.Remove(protocol, client, clientPort, vip, vport, out var refused))
                UnshareEntry(refused);
            Volatile.Write(ref _kernelScheduleRefused, _kernelScheduleRefused + 1);
            return;
        }

        int index = _conns.Add(bucket, protocol, client, clientPort, vip, vport);
        ref var n = ref _conns.At(index);
        n.Dest = dest;
        n.Service = svc;
        n.Flags |= ConnectionFlags.Inactive | ConnectionFlags.NoOutput | ConnectionFlags.InKernel;
        n.KernelPackets = 0;
        n.KernelBytes = 0;
        ref var dc = ref dest.Counters.Slot(Index);
        dc.InactiveConns++;
        dc.Conns++;
        svc.Counters.Slot(Index).Conns++;
        // The program counted the connection in its real server's shared counts when it scheduled it: not again.
        SetTcpState(ref n, TcpStateMachine.Syn, snapshot, nowMs, share: false);
        n.ExpiresMs = nowMs - Math.Max(0, idleMs) + snapshot.TcpTimeoutMs(n.State);
        Volatile.Write(ref _kernelScheduled, _kernelScheduled + 1);
    }

    /// <summary>Connections the kernel tier scheduled (the SYNs of its published services) that joined this table.</summary>
    public long KernelScheduled => Volatile.Read(ref _kernelScheduled);

    /// <summary>
    /// Connections the kernel tier scheduled that this table could not take as scheduled (service or dest gone, table
    /// full, or a SYN that reused a connection of another dest here).
    /// </summary>
    public long KernelScheduleRefused => Volatile.Read(ref _kernelScheduleRefused);

    private long _kernelScheduled;
    private long _kernelScheduleRefused;

    /// <summary>
    /// Adds what the kernel forwarded since the last fold to the counters (ip_vs_in_stats, only while the dest
    /// is available), takes over the TCP state its segments moved the connection to (with ActiveConn/InActConn
    /// as set_tcp_state counts them; a MASTER syncs the change unless <paramref name="publish"/> is false because
    /// the caller forwards a packet of it next) and restarts the timer from its last kernel-forwarded packet, as
    /// each packet through ip_vs_in would have.
    /// </summary>
    private void FoldKernel(int index, in KernelFlowCounters k, ServiceSnapshot snapshot, long nowMs, bool publish = true)
    {
        ref var c = ref _conns.At(index);
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

        bool tcp = c.Protocol == (byte)IpProtocol.Tcp;
        bool moved = tcp && k.State != c.State && (int)k.State < TcpStateMachine.StateCount;
        // The program moved the shared counts when it moved the state: only this worker's own counts follow here.
        if (moved)
            MoveTo(ref c, k.State, share: false);
        long timeout = tcp ? snapshot.TcpTimeoutMs(c.State) : snapshot.UdpTimeoutMs;
        long expires = nowMs - Math.Max(0, k.IdleMs) + timeout;
        // A new state's timer runs from the segment that moved it (the last one, at the latest).
        if (moved || expires > c.ExpiresMs)
            c.ExpiresMs = expires;
        if (moved && publish && _table.Sync is { IsMaster: true } sync)
            SyncConnection(sync, index, snapshot);
    }

    private RealServer? Schedule(VirtualService svc, in ParsedPacket packet, long nowMs)
    {
        var scheduler = svc.SchedulerFor(Index);
        var set = svc.DestSet;
        if (!ReferenceEquals(scheduler.Bound, set.Dests))
            scheduler.Update(set);
        var picked = scheduler.Pick(svc, in packet, nowMs);
        // Where the kernel tier's sequence continues when it takes this service's SYNs over (Director/KernelScheduling);
        // a write to a shared object, so only where a kernel tier may read it.
        if (FastPath is not null)
            svc.LastScheduled = picked;
        return picked;
    }

    /// <summary>
    /// ip_vs_sched_persist for an IPv4 or IPv6 service with a port, or a fwmark service: the template &lt;protocol, client &amp; netmask, 0,
    /// VIP, port&gt; (port 0 for FTP's port 21, so its data connections follow) picks the dest while it is
    /// valid (ip_vs_check_template: the dest still in the service and, only with expire_quiescent_template,
    /// weight &gt; 0); otherwise the scheduler picks and a new template records the choice. Every use restarts
    /// the template's timer with its timeout. Templates are per worker, like connections.
    /// </summary>
    private RealServer? SchedulePersistent(VirtualService svc, ServiceSpec spec, in ParsedPacket packet, long nowMs,
        bool onePacket, IConnectionSync? sync, out int template, out DropReason reason)
    {
        reason = DropReason.None;
        int prefix = spec.NetmaskPrefix;
        bool v6 = packet.IsIPv6;
        ushort tport = svc.Port == FtpPort ? (ushort)0 : packet.DestinationPort;
        byte proto = packet.Protocol;
        UInt128 snet, vip;
        if (v6)
        {
            // ipvsadm -M for an IPv6 service is a prefix length 1..128 (ip_vs_sched_persist masks with
            // ipv6_addr_prefix(svc->netmask)).
            UInt128 mask6 = prefix <= 0 ? UInt128.Zero : prefix >= 128 ? UInt128.MaxValue : UInt128.MaxValue << (128 - prefix);
            snet = packet.SourceAddress6 & mask6;
            vip = packet.DestinationAddress6;
        }
        else
        {
            uint mask = prefix <= 0 ? 0u : prefix >= 32 ? uint.MaxValue : uint.MaxValue << (32 - prefix);
            snet = packet.SourceAddress & mask;
            vip = packet.DestinationAddress;
            if (svc.Key.IsFwMark)
            {
                // The fwmark branch: <IPPROTO_IP, client & netmask, 0, the mark as the address, 0>, so one template
                // holds a client on one dest across every protocol, address and port that carries the mark.
                proto = IpProtoIp;
                vip = svc.Key.FwMark;
                tport = 0;
            }
        }
        var key = new ConnectionKey(v6, proto, snet, 0, vip, tport, Template: true);
        int tb = _conns.Bucket(in key);
        template = _conns.Find(tb, in key);
        if (template < 0 && sync is not null)
            template = AdoptTemplate(sync, svc, in key, tb, nowMs);
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
            template = BindTemplate(tb, in key, dest, svc, spec.PersistenceTimeout * 1000L, nowMs);
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
    private const byte IpProtoIp = 0;

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
                if (!FastPath!.TryRead(c.Protocol, c.ClientAddress, c.ClientPort, c.VirtualAddress, c.VirtualPort, out var k))
                    c.Flags &= ~ConnectionFlags.InKernel; // gone from the map (deleted outside): C# forwards it again
                else
                {
                    FoldKernel(_cursor, k, snapshot, nowMs);
                    // A FIN in the kernel moved it out of SYN_RECV/ESTABLISHED and no event ring told us: its entry
                    // is a marker now, the rest of it is forwarded here.
                    if (c.Protocol == (byte)IpProtocol.Tcp && !IsKernelHeld(c.State))
                        c.Flags = (c.Flags | ConnectionFlags.KernelMarker) & ~ConnectionFlags.InKernel;
                }
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

    /// <summary>ip_vs_todrop: true for one packet in every drop_rate while drop_packet is active.</summary>
    private bool ToDrop()
    {
        int rate = _defense.DropRate;
        if (rate == 0)
            return false;
        if (rate != _dropRate)
        {
            // update_defense_level restarts the counter with every new rate.
            _dropRate = rate;
            _dropCounter = rate;
        }
        if (--_dropCounter > 0)
            return false;
        _dropCounter = rate;
        return true;
    }

    /// <summary>
    /// ip_vs_random_dropentry on this worker's table: probes 1/32 of the table's slots at random (the
    /// kernel probes 1/32 of its hash buckets every second) and drops the TCP entries a spoofed SYN leaves
    /// behind, SYN_RECV and SYNACK. The kernel's todrop_entry also thins ESTABLISHED entries older than
    /// 60 s with at most 8 packets, and UDP entries; Fulcrum keeps those (it does not count packets per
    /// entry). A dropped connection's template goes with it once it controls nothing (ip_vs_conn_del on
    /// cp->control). Call on the worker's thread, once a second while <see cref="IpvsDefense.DropEntryActive"/>.
    /// </summary>
    public int RandomDropEntry()
    {
        int highWater = _conns.HighWater;
        if (highWater == 0)
            return 0;
        int probes = Math.Max(1, _conns.Capacity >> 5);
        int dropped = 0;
        for (int i = 0; i < probes; i++)
        {
            if (TryDropEmbryonic(NextRandom(highWater)))
                dropped++;
        }
        return dropped;
    }

    /// <summary>
    /// The table is at its bound while drop_entry is active: recycle a random embryonic entry for the new
    /// connection rather than refuse it, so legitimate clients still get in during a spoofed SYN flood (the
    /// kernel has no bound; under memory pressure it relies on the sweep alone).
    /// </summary>
    private bool EvictEmbryonic()
    {
        int highWater = _conns.HighWater;
        for (int i = 0; i < EvictProbes; i++)
        {
            if (TryDropEmbryonic(NextRandom(highWater)))
                return true;
        }
        return false;
    }

    private bool TryDropEmbryonic(int index)
    {
        ref var c = ref _conns.At(index);
        if ((c.Flags & (ConnectionFlags.InUse | ConnectionFlags.Template)) != ConnectionFlags.InUse ||
            c.Protocol != (byte)IpProtocol.Tcp || c.State is not (IpvsTcpState.SynRecv or IpvsTcpState.SynAck))
            return false;
        int control = c.Control;
        Unbind(index);
        if (control >= 0)
        {
            ref var t = ref _conns.At(control);
            if (t.Controlled == 0)
                Unbind(control);
        }
        Volatile.Write(ref _droppedEntries, _droppedEntries + 1);
        return true;
    }

    /// <summary>xorshift64*: the worker's own generator, so probing allocates nothing and shares nothing.</summary>
    private int NextRandom(int bound)
    {
        ulong x = _random;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        _random = x;
        return (int)(((x * 0x2545F4914F6CDD1DUL) >> 32) * (ulong)bound >> 32);
    }

    /// <summary>set_tcp_state: next state from the client's flags, ActiveConn/InActConn moves, new timeout.</summary>
    private void SetTcpState(ref Connection c, byte flags, ServiceSnapshot snapshot, long nowMs, bool share = true)
    {
        var next = TcpStateMachine.Next(c.State, flags, (c.Flags & ConnectionFlags.NoOutput) != 0, _defense.SecureTcpActive);
        if (next != c.State)
            MoveTo(ref c, next, share);
        c.ExpiresMs = nowMs + snapshot.TcpTimeoutMs(next);
    }

    /// <summary>
    /// set_tcp_state's bookkeeping: moves the connection to <paramref name="next"/>, between ActiveConn and InActConn as
    /// needed, in this worker's counts and, unless the kernel tier made the move itself (<paramref name="share"/> false),
    /// in the shared ones.
    /// </summary>
    private void MoveTo(ref Connection c, IpvsTcpState next, bool share = true)
    {
        ref var dc = ref c.Dest!.Counters.Slot(Index);
        bool inactive = (c.Flags & ConnectionFlags.Inactive) != 0;
        bool active = TcpStateMachine.IsActive(next);
        if (!inactive && !active)
        {
            dc.ActiveConns--;
            dc.InactiveConns++;
            c.Flags |= ConnectionFlags.Inactive;
            if (share)
                ShareConns(c.Dest, -1, 1);
        }
        else if (inactive && active)
        {
            dc.ActiveConns++;
            dc.InactiveConns--;
            c.Flags &= ~ConnectionFlags.Inactive;
            if (share)
                ShareConns(c.Dest, 1, -1);
        }

        c.State = next;
    }

    /// <summary>
    /// An ActiveConn/InActConn move this worker made itself, passed on to the kernel tier's shared counts (fulcrum_dest_conns),
    /// which its least-connection picks read; the kernel's own moves reach them from the program. Per connection event, not per packet.
    /// </summary>
    private void ShareConns(RealServer dest, int active, int inactive) => FastPath?.MoveConns(dest.KernelId, active, inactive);

    /// <summary>Takes a kernel entry's connection out of the shared counts (an entry the program scheduled that this table did not take).</summary>
    private void UnshareEntry(in KernelFlowCounters entry)
    {
        if (entry.State == IpvsTcpState.None)
            return; // a UDP entry: the program counts none
        bool active = TcpStateMachine.IsActive(entry.State);
        FastPath!.MoveConns(entry.DestId, active ? -1 : 0, active ? 0 : -1);
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
        if ((c.Flags & (ConnectionFlags.InKernel | ConnectionFlags.KernelMarker)) != 0)
            Unload(index, _table.Snapshot, _table.NowMs);
        var dest = c.Dest!;
        ref var dc = ref dest.Counters.Slot(Index);
        if ((c.Flags & ConnectionFlags.Template) != 0)
        {
            dc.PersistentConns--;
        }
        else if ((c.Flags & ConnectionFlags.Inactive) != 0)
        {
            dc.InactiveConns--;
            ShareConns(dest, 0, -1);
        }
        else
        {
            dc.ActiveConns--;
            ShareConns(dest, -1, 0);
        }
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
            bool v6 = (c.Flags & ConnectionFlags.IPv6) != 0;
            into.Add(new ConnectionInfo(
                (IpProtocol)c.Protocol,
                v6 ? ToAddress(_conns.Client6(i)) : ToAddress(c.ClientAddress),
                c.ClientPort,
                v6 ? ToAddress(_conns.Virtual6(i)) : ToAddress(c.VirtualAddress),
                c.VirtualPort,
                dest.Address,
                dest.Port,
                // /proc/net/ip_vs_conn names a template's state NONE (TCP) or UDP.
                template && tcp ? "NONE" : tcp ? TcpStateMachine.Name(c.State) : "UDP",
                (uint)((c.ExpiresMs - nowMs) / 1000)));
        }
    }

    internal static IPAddress ToAddress(UInt128 hostOrder)
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(b, hostOrder);
        return new IPAddress(b);
    }

    /// <summary>
    /// Appends the live connections and templates of both families as sync records, for a bulk resync
    /// (control plane; a racy read, as <see cref="Collect"/>).
    /// </summary>
    internal void CollectSynced(List<SyncedConnection> into, ServiceSnapshot snapshot, long nowMs)
    {
        int highWater = _conns.HighWater;
        for (int i = 0; i < highWater; i++)
        {
            var c = _conns.At(i);
            if ((c.Flags & ConnectionFlags.InUse) == 0 || c.Dest is not { } dest || c.Service is null || c.ExpiresMs <= nowMs ||
                dest.IsIpv6 != ((c.Flags & ConnectionFlags.IPv6) != 0))
                continue;
            into.Add(ToSynced(in c, i, snapshot));
        }
    }

    internal static IPAddress ToAddress(uint hostOrder)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, hostOrder);
        return new IPAddress(b);
    }
}
