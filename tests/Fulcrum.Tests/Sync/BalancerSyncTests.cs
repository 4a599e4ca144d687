using Fulcrum.Balancing;
using Fulcrum.Packets;
using Fulcrum.Sync;
using Microsoft.Extensions.Time.Testing;
using static Fulcrum.Tests.Balancing.Lab;

namespace Fulcrum.Tests.Sync;

/// <summary>The balancer's sync hooks: what a MASTER publishes and when, and how a BACKUP's worker takes over synced connections.</summary>
public class BalancerSyncTests
{
    private readonly FakeTimeProvider _time = new();

    /// <summary>An in-memory sync: records what workers publish; imports from an <see cref="ImportedConnections"/>.</summary>
    private sealed class FakeSync(bool master) : IConnectionSync
    {
        public List<SyncedConnection> Published { get; } = [];
        public ImportedConnections Imported { get; } = new(1000);
        public bool IsMaster { get; set; } = master;
        public void Publish(int worker, in SyncedConnection connection) => Published.Add(connection);
        public bool TryImport(in ConnectionKey key, long nowMs, out SyncedConnection connection) =>
            Imported.TryGet(in key, nowMs, out connection);
        public void Adopted(in ConnectionKey key) => Imported.MarkAdopted(in key);
        public void CollectImported(List<ConnectionInfo> into, long nowMs) => Imported.Collect(into, nowMs);
        public int StartDaemon(SyncDaemonConfig config) => 0;
        public int StopDaemon(SyncDaemonState state) => 0;
        public IReadOnlyList<SyncDaemonConfig> GetDaemons() => [];
    }

    private static void Send(IpvsTable t, Balancer w, ushort port, byte flags)
    {
        w.Send(t, Tcp(port, flags), out var verdict, out var reason);
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.Equal(DropReason.None, reason);
    }

    [Fact]
    public void Master_TcpLifecycle_SyncsAtThirdPacketAndOnEveryLaterStateChange()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var sync = new FakeSync(master: true);
        t.Sync = sync;
        var w = t.CreateWorker(0);

        Send(t, w, 40000, Syn);        // SYN_RECV: not a synced state
        Send(t, w, 40000, Ack);        // ESTABLISHED at packet 2: waits for sync_threshold
        Assert.Empty(sync.Published);
        Send(t, w, 40000, Ack | Psh);  // packet 3 = sync_threshold
        var c = Assert.Single(sync.Published);
        Assert.Equal((ushort)IpvsTcpState.Established, c.State);
        Assert.Equal(900u, c.TimeoutSeconds);
        Assert.Equal(3u | IpvsConnFlags.NoOutput, c.Flags);
        Assert.Equal(U32(Rs1), (uint)c.DestAddress);
        Assert.Equal((ushort)40000, c.ClientPort);

        for (int i = 4; i < 53; i++)
            Send(t, w, 40000, Ack | Psh);
        Assert.Single(sync.Published);
        Send(t, w, 40000, Ack | Psh);  // packet 53 = threshold + sync_period: the periodic refresh
        Assert.Equal(2, sync.Published.Count);

        Send(t, w, 40000, Fin | Ack);  // FIN_WAIT: a state change other than to ESTABLISHED goes at once
        Assert.Equal(3, sync.Published.Count);
        Assert.Equal((ushort)IpvsTcpState.FinWait, sync.Published[2].State);
        Assert.Equal(IpvsConnFlags.Inactive, sync.Published[2].Flags & IpvsConnFlags.Inactive);
        Assert.Equal(120u, sync.Published[2].TimeoutSeconds);
    }

    [Fact]
    public void NotMaster_NothingPublished()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var sync = new FakeSync(master: false);
        t.Sync = sync;
        var w = t.CreateWorker(0);
        Send(t, w, 40000, Syn);
        Send(t, w, 40000, Ack);
        Send(t, w, 40000, Ack | Psh);
        Send(t, w, 40000, Fin | Ack);
        Assert.Empty(sync.Published);
    }

    [Fact]
    public void Master_PersistentConnection_TemplateGoesWithIt()
    {
        var t = new IpvsTable(_time, 1, 1024);
        Assert.Equal(0, t.AddService(new ServiceSpec(Tcp80, "rr", PersistenceTimeout: 300, NetmaskPrefix: 24)));
        Assert.Equal(0, t.AddDest(Tcp80, new DestSpec(Rs2, 80)));
        var sync = new FakeSync(master: true);
        t.Sync = sync;
        var w = t.CreateWorker(0);
        Send(t, w, 40000, Syn);
        Send(t, w, 40000, Ack);
        Send(t, w, 40000, Ack | Psh);
        Assert.Equal(2, sync.Published.Count);
        var template = sync.Published[1];
        Assert.True(template.IsTemplate);
        Assert.Equal(300u, template.TimeoutSeconds);
        Assert.Equal(0, template.ClientPort);
        Assert.Equal(U32(Client) & 0xFFFFFF00u, (uint)template.ClientAddress);
        Assert.Equal(U32(Rs2), (uint)template.DestAddress);
    }

    [Fact]
    public void Backup_MissOnSyncedConnection_AdoptedOnItsDestAndCountedActive()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1), (Rs2, 1), (Rs3, 1)]);
        var sync = new FakeSync(master: false);
        t.Sync = sync;
        var synced = Synced(40000, Rs2, IpvsTcpState.Established);
        Assert.True(sync.Imported.Install(in synced, t.NowMs));
        Assert.Single(t.GetConnections()); // listed from the imported table before any packet
        var w = t.CreateWorker(0);

        // A mid-connection ACK (no SYN): without sync it would be dropped as NotSyn.
        var dest = w.Send(t, Tcp(40000, Ack | Psh), out var verdict, out _);
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.Equal(Rs2, dest!.Address);
        var info = Assert.Single(t.GetConnections());
        Assert.Equal("ESTABLISHED", info.State);
        Assert.Equal(1u, t.Dest(Tcp80, Rs2).ActiveConns);
        Assert.Equal(0u, t.Dest(Tcp80, Rs2).InactiveConns);

        // Later packets hit the worker's own table; the imported entry is no longer offered.
        for (int i = 0; i < 5; i++)
            Assert.Equal(Rs2, w.Send(t, Tcp(40000, Ack), out _, out _)!.Address);
        Assert.False(sync.Imported.TryGet(Key(40000), t.NowMs, out _));
    }

    [Fact]
    public void Backup_ImportedExpired_NotAdopted()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs2, 1)]);
        var sync = new FakeSync(master: false);
        t.Sync = sync;
        var synced = Synced(40000, Rs2, IpvsTcpState.Established) with { TimeoutSeconds = 10 };
        sync.Imported.Install(in synced, t.NowMs);
        _time.Advance(TimeSpan.FromSeconds(11));
        var w = t.CreateWorker(0);
        w.Send(t, Tcp(40000, Ack), out var verdict, out var reason);
        Assert.Equal(BalanceVerdict.Drop, verdict);
        Assert.Equal(DropReason.NotSyn, reason);
    }

    [Fact]
    public void Backup_SynReusingClosedSyncedPorts_ScheduledAfresh()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var sync = new FakeSync(master: false);
        t.Sync = sync;
        var synced = Synced(40000, Rs2, IpvsTcpState.TimeWait);
        sync.Imported.Install(in synced, t.NowMs);
        var w = t.CreateWorker(0);
        Assert.Equal(Rs1, w.Send(t, Tcp(40000, Syn), out _, out _)!.Address); // Rs2 is not even in the service
    }

    [Fact]
    public void Backup_DestGoneFromService_NotAdopted()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var sync = new FakeSync(master: false);
        t.Sync = sync;
        var synced = Synced(40000, Rs3, IpvsTcpState.Established);
        sync.Imported.Install(in synced, t.NowMs);
        var w = t.CreateWorker(0);
        w.Send(t, Tcp(40000, Ack), out var verdict, out _);
        Assert.Equal(BalanceVerdict.Drop, verdict);
    }

    [Fact]
    public void Backup_SyncedTemplate_NewConnectionOfThatClientFollowsIt()
    {
        var t = new IpvsTable(_time, 1, 1024);
        Assert.Equal(0, t.AddService(new ServiceSpec(Tcp80, "rr", PersistenceTimeout: 300)));
        foreach (var rs in new[] { Rs1, Rs2, Rs3 })
            Assert.Equal(0, t.AddDest(Tcp80, new DestSpec(rs, 80)));
        var sync = new FakeSync(master: false);
        t.Sync = sync;
        var template = new SyncedConnection
        {
            Protocol = 6,
            Flags = IpvsConnFlags.Template | IpvsConnFlags.NoOutput | 3,
            ClientAddress = U32(Client),
            VirtualAddress = U32(Vip),
            VirtualPort = 80,
            DestAddress = U32(Rs3),
            DestPort = 80,
            TimeoutSeconds = 300,
        };
        sync.Imported.Install(in template, t.NowMs);
        var w = t.CreateWorker(0);
        for (ushort port = 41000; port < 41006; port++)
            Assert.Equal(Rs3, w.Open(t, port).Address);
        Assert.Equal(1u, t.Dest(Tcp80, Rs3).PersistentConns);
    }

    [Fact]
    public void MasterToBackup_ThroughTheWireFormat_EveryEstablishedConnectionKeepsItsDest()
    {
        // The MASTER's worker publishes, the records go through a real message, the BACKUP installs
        // them, and its worker (same real servers, another order) forwards each flow to the same dest.
        var master = Table(_time, "rr", Tcp80, dests: [(Rs1, 1), (Rs2, 1), (Rs3, 1)]);
        var msync = new FakeSync(master: true);
        master.Sync = msync;
        var mw = master.CreateWorker(0);
        var chosen = new Dictionary<ushort, System.Net.IPAddress>();
        for (ushort port = 40000; port < 40050; port++)
        {
            chosen[port] = mw.Open(master, port).Address;
            Send(master, mw, port, Ack);
            Send(master, mw, port, Ack | Psh);
        }
        Assert.Equal(50, msync.Published.Count);

        var backup = Table(_time, "rr", Tcp80, dests: [(Rs3, 1), (Rs2, 1), (Rs1, 1)]);
        var bsync = new FakeSync(master: false);
        backup.Sync = bsync;
        var builder = new SyncMessageBuilder(51, 1472);
        var received = new List<SyncedConnection>();
        foreach (var c in msync.Published)
        {
            if (!builder.TryAdd(in c))
            {
                Assert.Equal(SyncParseResult.Ok, SyncCodec.Parse(builder.Buffer.AsSpan(0, builder.Finish()), 51, received, out _));
                builder.Reset();
                builder.TryAdd(in c);
            }
        }
        Assert.Equal(SyncParseResult.Ok, SyncCodec.Parse(builder.Buffer.AsSpan(0, builder.Finish()), 51, received, out _));
        foreach (var c in received)
            Assert.True(bsync.Imported.Install(in c, backup.NowMs));

        var bw = backup.CreateWorker(0);
        foreach (var (port, dest) in chosen)
            Assert.Equal(dest, bw.Send(backup, Tcp(port, Ack | Psh), out _, out _)!.Address);
        Assert.Equal(50u, backup.GetService(Tcp80)!.Dests.Aggregate(0u, (n, d) => n + d.ActiveConns));
    }

    [Fact]
    public void SloppyTcp_MidFlowAckWithoutSync_ScheduledEstablished()
    {
        var t = Table(_time, "mh", Tcp80, dests: [(Rs1, 1), (Rs2, 1), (Rs3, 1)]);
        var w = t.CreateWorker(0);
        w.Send(t, Tcp(40000, Ack), out var verdict, out var reason);
        Assert.Equal(BalanceVerdict.Drop, verdict);
        Assert.Equal(DropReason.NotSyn, reason);

        t.SloppyTcp = true;
        Assert.NotNull(w.Send(t, Tcp(40000, Ack), out verdict, out _));
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.Equal("ESTABLISHED", Assert.Single(t.GetConnections()).State);
        w.Send(t, Tcp(40001, Rst), out verdict, out _);
        Assert.Equal(BalanceVerdict.Drop, verdict); // a RST never starts a connection
    }

    [Fact]
    public void Install_InactiveUpdateForReplacedConnection_Ignored()
    {
        var imported = new ImportedConnections(10);
        var now = Synced(40000, Rs2, IpvsTcpState.Established);
        imported.Install(in now, 0);
        // ip_vs_proc_conn: an INACTIVE message for another dest is the expiry of the connection this one replaced.
        var stale = Synced(40000, Rs1, IpvsTcpState.FinWait) with { Flags = 3 | IpvsConnFlags.Inactive };
        imported.Install(in stale, 0);
        Assert.True(imported.TryGet(Key(40000), 1, out var c));
        Assert.Equal(U32(Rs2), (uint)c.DestAddress);
        // An active one for another dest replaces it.
        var moved = Synced(40000, Rs3, IpvsTcpState.Established);
        imported.Install(in moved, 0);
        Assert.True(imported.TryGet(Key(40000), 1, out c));
        Assert.Equal(U32(Rs3), (uint)c.DestAddress);
    }

    [Fact]
    public void Install_Full_RefusesNewKeepsUpdates()
    {
        var imported = new ImportedConnections(1);
        var a = Synced(40000, Rs2, IpvsTcpState.Established);
        var b = Synced(40001, Rs2, IpvsTcpState.Established);
        Assert.True(imported.Install(in a, 0));
        Assert.False(imported.Install(in b, 0));
        Assert.True(imported.Install(in a, 0));
    }

    [Fact]
    public void Sweep_RemovesExpiredAndAdopted()
    {
        var imported = new ImportedConnections(10);
        var a = Synced(40000, Rs2, IpvsTcpState.Established) with { TimeoutSeconds = 5 };
        var b = Synced(40001, Rs2, IpvsTcpState.Established);
        var c = Synced(40002, Rs2, IpvsTcpState.Established);
        imported.Install(in a, 0);
        imported.Install(in b, 0);
        imported.Install(in c, 0);
        imported.MarkAdopted(Key(40001));
        Assert.Equal(2, imported.Sweep(6000));
        Assert.Equal(1, imported.Count);
    }

    private static ConnectionKey Key(ushort port) => new(false, 6, U32(Client), port, U32(Vip), 80, Template: false);

    private static SyncedConnection Synced(ushort port, System.Net.IPAddress dest, IpvsTcpState state) => new()
    {
        Protocol = 6,
        Flags = 3 | IpvsConnFlags.NoOutput | IpvsConnFlags.Sync,
        State = (ushort)state,
        ClientAddress = U32(Client),
        ClientPort = port,
        VirtualAddress = U32(Vip),
        VirtualPort = 80,
        DestAddress = U32(dest),
        DestPort = 80,
        TimeoutSeconds = 900,
    };
}

/// <summary>The sync hooks on the per-packet path allocate nothing (the worker's rule).</summary>
public class BalancerSyncAllocationTests
{
    private sealed class QueueSync : IConnectionSync
    {
        public SyncQueue Queue { get; } = new(1 << 16);
        public ImportedConnections Imported { get; } = new(1 << 16);
        public bool IsMaster { get; set; } = true;
        public void Publish(int worker, in SyncedConnection connection) => Queue.TryEnqueue(in connection);
        public bool TryImport(in ConnectionKey key, long nowMs, out SyncedConnection connection) =>
            Imported.TryGet(in key, nowMs, out connection);
        public void Adopted(in ConnectionKey key) => Imported.MarkAdopted(in key);
        public void CollectImported(List<ConnectionInfo> into, long nowMs) { }
        public int StartDaemon(SyncDaemonConfig config) => 0;
        public int StopDaemon(SyncDaemonState state) => 0;
        public IReadOnlyList<SyncDaemonConfig> GetDaemons() => [];
    }

    private static readonly byte[] Lifecycle = [Syn, Ack, Ack | Psh, Fin | Ack];

    [Fact]
    public void MasterPublishAndBackupAdopt_ZeroBytesPerPacket()
    {
        var time = new FakeTimeProvider();
        var t = Table(time, "rr", Tcp80, capacity: 1 << 16, dests: [(Rs1, 1), (Rs2, 1)]);
        var sync = new QueueSync();
        t.Sync = sync;
        var w = t.CreateWorker(0);
        long nowMs = t.NowMs;
        // Round 0 warms up (JIT, the table's first chunk); rounds 1-3 (500 connections, 2,000 packets each)
        // are measured. A per-packet allocation shows in every round; the runtime was once seen allocating
        // 7.8 KB on this thread in a single round (tiering), so the least of three rounds must be 0 B.
        var allocated = new List<long>();
        for (int round = 0; round < 4; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int port = 20000 + round * 500; port < 20500 + round * 500; port++)
            {
                for (int k = 0; k < Lifecycle.Length; k++)
                {
                    var p = Tcp((ushort)port, Lifecycle[k]);
                    w.Process(ref p, nowMs, out _, out _);
                }
            }
            if (round > 0)
                allocated.Add(GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.True(allocated.Min() == 0, $"bytes allocated per round of 2,000 packets: {string.Join(", ", allocated)}");
        Assert.False(sync.Queue.IsEmpty); // the MASTER path did publish

        sync.IsMaster = false;
        // The MASTER-phase connections expire, so adopting reuses their slots (the table grows by
        // 4096-entry chunks, never per connection; this measures the adopt path, not a chunk).
        nowMs += 300_000;
        Assert.Equal(2000, w.Expire(nowMs, 1 << 20));
        for (int port = 50000; port < 52000; port++)
        {
            var c = new SyncedConnection
            {
                Protocol = 6, Flags = 3 | IpvsConnFlags.NoOutput, State = (ushort)IpvsTcpState.Established,
                ClientAddress = U32(Client), ClientPort = (ushort)port, VirtualAddress = U32(Vip), VirtualPort = 80,
                DestAddress = U32(Rs2), DestPort = 80, TimeoutSeconds = 900,
            };
            sync.Imported.Install(in c, nowMs);
        }
        var warm = Tcp(50000, Ack);
        w.Process(ref warm, nowMs, out _, out _); // warm the adopt path
        int adopted = 0;
        var adoptAllocated = new List<long>();
        for (int block = 0; block < 3; block++)
        {
            long start = GC.GetAllocatedBytesForCurrentThread();
            for (int port = 50001 + block * 600; port < 50601 + block * 600; port++)
            {
                var p = Tcp((ushort)port, Ack);
                if (w.Process(ref p, nowMs, out var dest, out _) == BalanceVerdict.Forward && ReferenceEquals(dest!.Address, dest.Address))
                    adopted++;
            }
            adoptAllocated.Add(GC.GetAllocatedBytesForCurrentThread() - start);
        }
        Assert.True(adoptAllocated.Min() == 0, $"bytes allocated per 600 adoptions: {string.Join(", ", adoptAllocated)}");
        Assert.Equal(1800, adopted);
    }
}
