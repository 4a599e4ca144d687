using System.Buffers.Binary;
using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Packets;
using Fulcrum.Sync;
using Microsoft.Extensions.Time.Testing;
using static Fulcrum.Tests.Balancing.Lab;

namespace Fulcrum.Tests.Sync;

/// <summary>
/// IPv6 connections and persistence templates through sync: a MASTER's worker publishes them with their
/// 128-bit addresses, the records go through the v1 wire format (ip_vs_sync_v6), and a BACKUP's worker
/// adopts them on a table miss exactly as it adopts IPv4 ones.
/// </summary>
public class Ipv6SyncTests
{
    private static readonly IPAddress Vip6 = IPAddress.Parse("2001:db8:100::100");
    private static readonly IPAddress[] Rs6 = [IPAddress.Parse("2001:db8:100::2"), IPAddress.Parse("2001:db8:100::3"), IPAddress.Parse("2001:db8:100::4")];
    private static readonly IPAddress Client6 = IPAddress.Parse("2001:db8:113::10");
    private static readonly ServiceKey Tcp6 = new(IpProtocol.Tcp, Vip6, 80);

    private readonly FakeTimeProvider _time = new();

    private sealed class FakeSync(bool master) : IConnectionSync
    {
        public List<SyncedConnection> Published { get; } = [];
        public ImportedConnections Imported { get; } = new(1 << 16);
        public bool IsMaster { get; set; } = master;
        public void Publish(int worker, in SyncedConnection connection) => Published.Add(connection);
        public bool TryImport(in ConnectionKey key, long nowMs, out SyncedConnection connection) => Imported.TryGet(in key, nowMs, out connection);
        public void Adopted(in ConnectionKey key) => Imported.MarkAdopted(in key);
        public void CollectImported(List<ConnectionInfo> into, long nowMs) => Imported.Collect(into, nowMs);
        public int StartDaemon(SyncDaemonConfig config) => 0;
        public int StopDaemon(SyncDaemonState state) => 0;
        public IReadOnlyList<SyncDaemonConfig> GetDaemons() => [];
    }

    private static UInt128 U128(IPAddress a) => BinaryPrimitives.ReadUInt128BigEndian(a.GetAddressBytes());

    private static ParsedPacket Tcp6Packet(ushort clientPort, byte flags, IPAddress? client = null)
    {
        UInt128 s = U128(client ?? Client6), d = U128(Vip6);
        return new ParsedPacket
        {
            L3Offset = 14,
            L4Offset = 54,
            Protocol = 6,
            TcpFlags = flags,
            IsIPv6 = true,
            SourceAddress6 = s,
            DestinationAddress6 = d,
            SourceAddress = ParsedPacket.Fold(s),
            DestinationAddress = ParsedPacket.Fold(d),
            SourcePort = clientPort,
            DestinationPort = 80,
            IpLength = 80,
        };
    }

    private IpvsTable Table(IPAddress[] dests, uint persistence = 0, int prefix = 128, int capacity = 1024)
    {
        var t = new IpvsTable(_time, 1, capacity);
        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(Tcp6, "rr", PersistenceTimeout: persistence, NetmaskPrefix: prefix)));
        foreach (var rs in dests)
            Assert.Equal(IpvsErrno.Ok, t.AddDest(Tcp6, new DestSpec(rs, 80)));
        return t;
    }

    private static RealServer? Send(Balancer w, IpvsTable t, ushort port, byte flags, IPAddress? client = null) =>
        Send(w, t, port, flags, out _, client);

    private static RealServer? Send(Balancer w, IpvsTable t, ushort port, byte flags, out BalanceVerdict verdict, IPAddress? client = null)
    {
        var p = Tcp6Packet(port, flags, client);
        verdict = w.Process(ref p, t.NowMs, out var dest, out _);
        return dest;
    }

    /// <summary>Handshake and one data segment: ESTABLISHED at packet 3 (sync_threshold), so the MASTER publishes.</summary>
    private static IPAddress Open(Balancer w, IpvsTable t, ushort port, IPAddress? client = null)
    {
        var dest = Send(w, t, port, Syn, client)!.Address;
        Assert.Equal(dest, Send(w, t, port, Ack, client)!.Address);
        Assert.Equal(dest, Send(w, t, port, Ack | Psh, client)!.Address);
        return dest;
    }

    /// <summary>What a BACKUP's receive thread does: the records into v1 messages, parsed and installed.</summary>
    private static int ThroughTheWire(List<SyncedConnection> published, ImportedConnections into, long nowMs)
    {
        var builder = new SyncMessageBuilder(51, 1472);
        var received = new List<SyncedConnection>();
        foreach (var c in published)
        {
            if (!builder.TryAdd(in c))
            {
                Assert.Equal(SyncParseResult.Ok, SyncCodec.Parse(builder.Buffer.AsSpan(0, builder.Finish()), 51, received, out _));
                builder.Reset();
                Assert.True(builder.TryAdd(in c));
            }
        }
        Assert.Equal(SyncParseResult.Ok, SyncCodec.Parse(builder.Buffer.AsSpan(0, builder.Finish()), 51, received, out int skipped));
        Assert.Equal(0, skipped);
        foreach (var c in received)
            Assert.True(into.Install(in c, nowMs));
        return received.Count;
    }

    [Fact]
    public void Master_Ipv6Connection_PublishedWithItsIpv6Addresses()
    {
        var t = Table(Rs6);
        var sync = new FakeSync(master: true);
        t.Sync = sync;
        var w = t.CreateWorker(0);

        var dest = Open(w, t, 40000);
        var c = Assert.Single(sync.Published);
        Assert.True(c.IsIpv6);
        Assert.False(c.IsTemplate);
        Assert.Equal(U128(Client6), c.ClientAddress);
        Assert.Equal(U128(Vip6), c.VirtualAddress);
        Assert.Equal(U128(dest), c.DestAddress);
        Assert.Equal((ushort)40000, c.ClientPort);
        Assert.Equal((ushort)80, c.VirtualPort);
        Assert.Equal((ushort)IpvsTcpState.Established, c.State);
        Assert.Equal(3u | IpvsConnFlags.NoOutput, c.Flags);
        Assert.Equal(900u, c.TimeoutSeconds);
        Assert.Equal(SyncCodec.V6RecordSize, SyncCodec.RecordSize(in c));
    }

    /// <summary>A kernel tier that takes every IPv4 flow it is offered (IPv6 flows are never offered).</summary>
    private sealed class AnyFastPath : IKernelFastPath
    {
        public bool Install(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, ulong destMac, IpvsTcpState state, uint destId) => true;
        public void MoveConns(uint destId, int active, int inactive)
        {
        }
        public bool TryRead(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, out KernelFlowCounters counters)
        {
            counters = default;
            return false;
        }
        public bool Remove(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, out KernelFlowCounters counters) =>
            TryRead(protocol, client, clientPort, vip, vport, out counters);
        public int DrainEvents(IKernelEvents sink) => 0;
    }

    [Fact]
    public void Master_Ipv6WithKernelTier_SyncsAtTheKernelsThreshold()
    {
        // The kernel tier takes IPv4 flows off the C# path at ESTABLISHED, so those are synced at once;
        // IPv6 flows stay on the C# path and keep ip_vs_sync_conn_needed's packet 3.
        var t = Table(Rs6);
        var sync = new FakeSync(master: true);
        t.Sync = sync;
        var w = t.CreateWorker(0);
        w.FastPath = new AnyFastPath();
        Send(w, t, 40000, Syn);
        Send(w, t, 40000, Ack);   // ESTABLISHED at packet 2
        Assert.Empty(sync.Published);
        Send(w, t, 40000, Ack | Psh);
        Assert.Single(sync.Published);
    }

    [Fact]
    public void MasterToBackup_Ipv6ThroughTheWireFormat_EveryConnectionAdoptedOnItsDest()
    {
        var master = Table(Rs6);
        var msync = new FakeSync(master: true);
        master.Sync = msync;
        var mw = master.CreateWorker(0);
        var chosen = new Dictionary<ushort, IPAddress>();
        for (ushort port = 40000; port < 40050; port++)
            chosen[port] = Open(mw, master, port);
        Assert.Equal(50, msync.Published.Count);

        // The BACKUP lists the dests in another order: rr there would pick differently.
        var backup = Table([Rs6[2], Rs6[1], Rs6[0]]);
        var bsync = new FakeSync(master: false);
        backup.Sync = bsync;
        Assert.Equal(50, ThroughTheWire(msync.Published, bsync.Imported, backup.NowMs));
        Assert.Equal(50, backup.GetConnections().Count(c => c.Client.Equals(Client6) && c.State == "ESTABLISHED"));

        var bw = backup.CreateWorker(0);
        foreach (var (port, dest) in chosen)
        {
            // A mid-connection segment (no SYN): without sync it would be dropped as NotSyn.
            Assert.Equal(dest, Send(bw, backup, port, Ack | Psh, out var verdict)!.Address);
            Assert.Equal(BalanceVerdict.Forward, verdict);
        }
        Assert.Equal(50u, backup.GetService(Tcp6)!.Dests.Aggregate(0u, (n, d) => n + d.ActiveConns));
        Assert.Equal(50, bw.Count);
        var key = new ConnectionKey(true, 6, U128(Client6), 40000, U128(Vip6), 80, Template: false);
        Assert.False(bsync.Imported.TryGet(in key, backup.NowMs, out _)); // taken over: no longer offered
        Assert.Equal(50, backup.GetConnections().Count); // listed once, from the worker's table

        // Later packets hit the worker's own table.
        foreach (var (port, dest) in chosen)
            Assert.Equal(dest, Send(bw, backup, port, Ack)!.Address);
    }

    [Fact]
    public void MasterToBackup_Ipv6PersistenceTemplate_NewConnectionFromTheSlash64FollowsIt()
    {
        var master = Table(Rs6, persistence: 300, prefix: 64);
        var msync = new FakeSync(master: true);
        master.Sync = msync;
        var mw = master.CreateWorker(0);
        var dest = Open(mw, master, 40000);

        Assert.Equal(2, msync.Published.Count);
        var template = msync.Published[1];
        Assert.True(template.IsTemplate);
        Assert.True(template.IsIpv6);
        Assert.Equal(U128(IPAddress.Parse("2001:db8:113::")), template.ClientAddress); // the client's /64
        Assert.Equal(0, template.ClientPort);
        Assert.Equal(U128(Vip6), template.VirtualAddress);
        Assert.Equal(U128(dest), template.DestAddress);
        Assert.Equal(300u, template.TimeoutSeconds);

        var backup = Table([Rs6[2], Rs6[1], Rs6[0]], persistence: 300, prefix: 64);
        var bsync = new FakeSync(master: false);
        backup.Sync = bsync;
        Assert.Equal(2, ThroughTheWire(msync.Published, bsync.Imported, backup.NowMs));

        // New connections (SYNs) from another address of the same /64 follow the synced template.
        var bw = backup.CreateWorker(0);
        var neighbour = IPAddress.Parse("2001:db8:113::11");
        for (ushort port = 41000; port < 41006; port++)
            Assert.Equal(dest, Send(bw, backup, port, Syn, neighbour)!.Address);
        var d = backup.Dest(Tcp6, dest);
        Assert.Equal(1u, d.PersistentConns);
        Assert.Equal(6u, d.ActiveConns); // SYN_RECV counts as active (tcp_state_active)
        // The synced connection itself is adopted on its next segment.
        Assert.Equal(dest, Send(bw, backup, 40000, Ack)!.Address);
    }

    [Fact]
    public void Backup_Ipv6SyncedDestGoneFromService_NotAdopted()
    {
        var master = Table(Rs6);
        var msync = new FakeSync(master: true);
        master.Sync = msync;
        var mw = master.CreateWorker(0);
        IPAddress dest;
        ushort port = 40000;
        while ((dest = Open(mw, master, port)).Equals(Rs6[0]))
            port++;

        var backup = Table([Rs6[0]]);
        var bsync = new FakeSync(master: false);
        backup.Sync = bsync;
        ThroughTheWire(msync.Published, bsync.Imported, backup.NowMs);
        var bw = backup.CreateWorker(0);
        Send(bw, backup, port, Ack, out var verdict);
        Assert.Equal(BalanceVerdict.Drop, verdict);
    }

    [Fact]
    public void Import_SameNumbersInBothFamilies_KeptApart()
    {
        // An IPv4 record's addresses are its IPv6 twin's low 32 bits (::203.0.113.10): the family is part of the key.
        var imported = new ImportedConnections(10);
        var v4 = new SyncedConnection
        {
            Protocol = 6, Flags = 3, State = (ushort)IpvsTcpState.Established, ClientAddress = U32(Client), ClientPort = 40000,
            VirtualAddress = U32(Vip), VirtualPort = 80, DestAddress = U32(Rs1), DestPort = 80, TimeoutSeconds = 900,
        };
        var v6 = v4 with { IsIpv6 = true, DestAddress = U32(Rs2) };
        Assert.True(imported.Install(in v4, 0));
        Assert.True(imported.Install(in v6, 0));
        Assert.Equal(2, imported.Count);
        Assert.True(imported.TryGet(v4.Key, 1, out var got4));
        Assert.True(imported.TryGet(v6.Key, 1, out var got6));
        Assert.False(got4.IsIpv6);
        Assert.Equal(U32(Rs1), (uint)got4.DestAddress);
        Assert.True(got6.IsIpv6);
        Assert.Equal(U32(Rs2), (uint)got6.DestAddress);
    }

    [Fact]
    public void CollectForSync_BulkResync_CarriesIpv6ConnectionsAndTemplates()
    {
        var t = Table(Rs6, persistence: 300, prefix: 64);
        var w = t.CreateWorker(0);
        var dest = Open(w, t, 40000);
        Open(w, t, 40001);

        var records = new List<SyncedConnection>();
        t.CollectForSync(records);
        Assert.Equal(3, records.Count);
        Assert.All(records, r => Assert.True(r.IsIpv6));
        Assert.All(records, r => Assert.Equal(U128(dest), r.DestAddress));
        var template = Assert.Single(records, r => r.IsTemplate);
        Assert.Equal(U128(IPAddress.Parse("2001:db8:113::")), template.ClientAddress);
        Assert.Equal(2, records.Count(r => !r.IsTemplate && r.ClientAddress == U128(Client6) && r.VirtualAddress == U128(Vip6)));

        // And a BACKUP fed only by the resync takes both connections over.
        var backup = Table([Rs6[1], Rs6[2], Rs6[0]], persistence: 300, prefix: 64);
        var bsync = new FakeSync(master: false);
        backup.Sync = bsync;
        Assert.Equal(3, ThroughTheWire(records, bsync.Imported, backup.NowMs));
        var bw = backup.CreateWorker(0);
        Assert.Equal(dest, Send(bw, backup, 40000, Ack)!.Address);
        Assert.Equal(dest, Send(bw, backup, 40001, Ack)!.Address);
    }

    [Fact]
    public void Master_Ipv6ServiceWithIpv4TunnelDest_NotPublished()
    {
        // A v1 record has one family for all its addresses: a connection across families cannot be synced.
        var t = new IpvsTable(_time, 1, 1024);
        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(Tcp6, "rr")));
        Assert.Equal(IpvsErrno.Ok, t.AddDest(Tcp6, new DestSpec(Rs1, 80, ForwardingMethod.Tunnel)));
        var sync = new FakeSync(master: true);
        t.Sync = sync;
        var w = t.CreateWorker(0);
        Assert.Equal(Rs1, Open(w, t, 40000));
        Assert.Empty(sync.Published);
        var records = new List<SyncedConnection>();
        t.CollectForSync(records);
        Assert.Empty(records);
    }

    [Fact]
    public void MasterPublishAndBackupAdopt_Ipv6_ZeroBytesPerPacket()
    {
        byte[] lifecycle = [Syn, Ack, Ack | Psh, Fin | Ack];
        var t = Table([Rs6[0], Rs6[1]], capacity: 1 << 16);
        var sync = new FakeSync(master: true);
        t.Sync = sync;
        var w = t.CreateWorker(0);
        long nowMs = t.NowMs;
        var packets = new ParsedPacket[2000 * lifecycle.Length];
        for (int i = 0; i < 2000; i++)
        {
            for (int k = 0; k < lifecycle.Length; k++)
                packets[i * lifecycle.Length + k] = Tcp6Packet((ushort)(20000 + i), lifecycle[k]);
        }
        // Warm up (JIT, table chunks, the IPv6 side store, the publish list's growth) on other ports.
        for (int i = 0; i < 2000; i++)
            Open(w, t, (ushort)(30000 + i));
        sync.Published.Clear();
        sync.Published.Capacity = 16_000;

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < packets.Length; i++)
            w.Process(ref packets[i], nowMs, out _, out _);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(4000, sync.Published.Count); // ESTABLISHED at packet 3, FIN_WAIT at once: the MASTER path ran

        // BACKUP: the MASTER-phase connections expire (ESTABLISHED: 900 s); adopting reuses their slots.
        sync.IsMaster = false;
        nowMs += 1_000_000;
        Assert.Equal(4000, w.Expire(nowMs, 1 << 20));
        for (int port = 50000; port < 52000; port++)
        {
            var c = new SyncedConnection
            {
                IsIpv6 = true, Protocol = 6, Flags = 3 | IpvsConnFlags.NoOutput, State = (ushort)IpvsTcpState.Established,
                ClientAddress = U128(Client6), ClientPort = (ushort)port, VirtualAddress = U128(Vip6), VirtualPort = 80,
                DestAddress = U128(Rs6[1]), DestPort = 80, TimeoutSeconds = 900,
            };
            sync.Imported.Install(in c, nowMs);
        }
        var adopt = new ParsedPacket[2000];
        for (int i = 0; i < adopt.Length; i++)
            adopt[i] = Tcp6Packet((ushort)(50000 + i), Ack);
        w.Process(ref adopt[0], nowMs, out _, out _); // warm the adopt path
        int adopted = 0;
        long start = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 1; i < adopt.Length; i++)
        {
            if (w.Process(ref adopt[i], nowMs, out var dest, out _) == BalanceVerdict.Forward && dest!.IsIpv6)
                adopted++;
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - start);
        Assert.Equal(1999, adopted);
    }
}
