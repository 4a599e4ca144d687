using Fulcrum.Balancing;
using Fulcrum.Packets;
using Microsoft.Extensions.Time.Testing;
using static Fulcrum.Tests.Balancing.Lab;

namespace Fulcrum.Tests.Balancing;

/// <summary>The balancer's side of the kernel tier, against an in-memory map standing in for the BPF one.</summary>
public class KernelFastPathTests
{
    private const ulong Rs1Mac = 0x02_00_C6_33_64_02;
    private readonly FakeTimeProvider _time = new();

    private sealed class FakeMap : IKernelFastPath
    {
        public readonly Dictionary<(byte, uint, ushort, uint, ushort), (ulong Mac, long Packets, long Bytes, long IdleMs, IpvsTcpState State)> Entries = [];
        public int Installs;
        public int Removes;

        /// <summary>The entries' real server ids, and fulcrum_dest_conns: every real server's ActiveConn/InActConn as shared with the program.</summary>
        public readonly Dictionary<(byte, uint, ushort, uint, ushort), uint> DestIds = [];
        public readonly Dictionary<uint, (int Active, int Inactive)> Shared = [];

        public bool Install(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, ulong destMac, IpvsTcpState state, uint destId)
        {
            Installs++;
            Entries[(protocol, client, clientPort, vip, vport)] = (destMac, 0, 0, -1, state);
            DestIds[(protocol, client, clientPort, vip, vport)] = destId;
            return true;
        }

        public void MoveConns(uint destId, int active, int inactive)
        {
            var c = Shared.GetValueOrDefault(destId);
            Shared[destId] = (c.Active + active, c.Inactive + inactive);
        }

        public bool TryRead(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, out KernelFlowCounters counters)
        {
            counters = default;
            if (!Entries.TryGetValue((protocol, client, clientPort, vip, vport), out var e))
                return false;
            counters = new KernelFlowCounters(e.Packets, e.Bytes, e.IdleMs, e.State);
            return true;
        }

        public bool Remove(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, out KernelFlowCounters counters)
        {
            bool found = TryRead(protocol, client, clientPort, vip, vport, out counters);
            Entries.Remove((protocol, client, clientPort, vip, vport));
            Removes++;
            return found;
        }

        public readonly Queue<((byte, uint, ushort, uint, ushort) Key, KernelFlowCounters Counters)> Events = new();

        public int DrainEvents(IKernelEvents sink)
        {
            int n = 0;
            while (Events.TryDequeue(out var e))
            {
                var (protocol, client, clientPort, vip, vport) = e.Key;
                sink.StateChanged(protocol, client, clientPort, vip, vport, e.Counters);
                n++;
            }

            return n;
        }

        /// <summary>What the program does when a segment moves a connection's state with event rings: tell (the entry stays).</summary>
        public void Tell(ushort clientPort, ushort vport = 80)
        {
            var key = ((byte)6, U32(Client), clientPort, U32(Vip), vport);
            var e = Entries[key];
            Events.Enqueue((key, new KernelFlowCounters(e.Packets, e.Bytes, e.IdleMs, e.State)));
        }

        /// <summary>What the program does when it schedules a SYN itself: an entry in SYN_RECV, one more active connection.</summary>
        public void Schedule(ushort clientPort, ulong mac, uint destId)
        {
            var key = ((byte)6, U32(Client), clientPort, U32(Vip), (ushort)80);
            Entries[key] = (mac, 1, 60, 0, IpvsTcpState.SynRecv);
            DestIds[key] = destId;
            MoveConns(destId, 1, 0);
        }

        /// <summary>What the BPF program does per forwarded packet (TCP: an ACK, or a FIN with <paramref name="fin"/>).</summary>
        public void Forward(byte protocol, ushort clientPort, ushort vport, int ipLength, int count, bool fin = false)
        {
            var key = (protocol, U32(Client), clientPort, U32(Vip), vport);
            var e = Entries[key];
            var state = protocol == 6 ? TcpStateMachine.Next(e.State, fin ? (byte)(TcpStateMachine.Fin | TcpStateMachine.Ack) : TcpStateMachine.Ack, inputOnly: true) : e.State;
            Entries[key] = (e.Mac, e.Packets + count, e.Bytes + ((long)ipLength * count), 0, state);
            // fulcrum_account: a state change across ActiveConn/InActConn moves the shared counts.
            bool was = TcpStateMachine.IsActive(e.State), @is = TcpStateMachine.IsActive(state);
            if (protocol == 6 && was != @is)
                MoveConns(DestIds[key], @is ? 1 : -1, @is ? -1 : 1);
        }
    }

    [Fact]
    public void Tcp_InstalledAtEstablished_RemovedAtFin_CountersFolded()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        var map = new FakeMap();
        w.FastPath = map;

        var dest = w.Open(t, 40000);
        dest.Mac = Rs1Mac;
        Assert.Empty(map.Entries); // the MAC was unknown at the SYN: the ACK that establishes it installs it
        w.Send(t, Tcp(40000, Ack), out _, out _);
        Assert.Equal(Rs1Mac, Assert.Single(map.Entries).Value.Mac);

        map.Forward(6, 40000, 80, 60, 10);
        Assert.Equal(0, w.Expire(t.NowMs, 1024));
        var stats = t.Dest(Tcp80, Rs1).Stats;
        Assert.Equal(12UL, stats.InPackets); // SYN + ACK in C#, 10 in the kernel
        Assert.Equal(12UL * 60, stats.InBytes);

        map.Forward(6, 40000, 80, 60, 5);
        w.Send(t, Tcp(40000, Fin | Ack), out var verdict, out _);
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.Empty(map.Entries);
        Assert.Equal(18UL, t.Dest(Tcp80, Rs1).Stats.InPackets);
        Assert.Equal(18UL, t.GetService(Tcp80)!.Stats.InPackets);
        var d = t.Dest(Tcp80, Rs1);
        Assert.Equal(0u, d.ActiveConns);
        Assert.Equal(1u, d.InactiveConns);
    }

    [Fact]
    public void Tcp_KernelTraffic_KeepsTheConnectionFromExpiring()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        Assert.Equal(IpvsErrno.Ok, t.SetTimeouts(new IpvsTimeouts(10, 0, 0)));
        var w = t.CreateWorker(0);
        var map = new FakeMap();
        w.FastPath = map;
        w.Open(t, 40001).Mac = Rs1Mac;
        w.Send(t, Tcp(40001, Ack), out _, out _);

        for (int i = 0; i < 5; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(8));
            map.Forward(6, 40001, 80, 60, 1);
            Assert.Equal(0, w.Expire(t.NowMs, 1024));
        }

        Assert.Single(t.GetConnections());
        _time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(1, w.Expire(t.NowMs, 1024));
        Assert.Empty(t.GetConnections());
        Assert.Empty(map.Entries);
        Assert.Equal(7UL, t.Dest(Tcp80, Rs1).Stats.InPackets);
    }

    [Fact]
    public void Udp_InstalledAfterTheFirstDatagram_ExpiryFoldsAndRemoves()
    {
        var t = Table(_time, "rr", Udp53, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        // A first flow without the tier, as the neighbour service resolves the MAC meanwhile.
        w.Send(t, Udp(4999), out _, out _)!.Mac = Rs1Mac;
        var map = new FakeMap();
        w.FastPath = map;

        w.Send(t, Udp(5000), out var verdict, out _);
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.Single(map.Entries);
        map.Forward(17, 5000, 53, 40, 99);
        _time.Advance(TimeSpan.FromSeconds(301));
        var key = map.Entries.Keys.Single();
        map.Entries[key] = map.Entries[key] with { IdleMs = 301_000 };
        Assert.Equal(2, w.Expire(t.NowMs, 1024));
        Assert.Empty(map.Entries);
        Assert.Equal(101UL, t.Dest(Udp53, Rs1).Stats.InPackets);
    }

    [Fact]
    public void UnknownMac_NeverInstalled()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        var map = new FakeMap();
        w.FastPath = map;
        w.Open(t, 40002);
        w.Send(t, Tcp(40002, Ack), out _, out _);
        Assert.Equal(0, map.Installs);
    }

    /// <summary>A worker with the tier whose real server's MAC is known (an earlier connection, before the tier, took rs1).</summary>
    private (IpvsTable Table, Balancer Worker, FakeMap Map) WarmTcp(DefenseSettings? defense = null)
    {
        var t = new IpvsTable(_time, 1, 1024, defense);
        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(Tcp80, "rr")));
        Assert.Equal(IpvsErrno.Ok, t.AddDest(Tcp80, new DestSpec(Rs1, 80, ForwardingMethod.DirectRoute, 1)));
        var w = t.CreateWorker(0);
        w.Open(t, 39999).Mac = Rs1Mac;
        var map = new FakeMap();
        w.FastPath = map;
        return (t, w, map);
    }

    private static string State(IpvsTable t, ushort clientPort) =>
        t.GetConnections().Single(c => c.ClientPort == clientPort).State;

    [Fact]
    public void Tcp_HeldFromItsSyn_HandshakeAckInTheKernel_SweepMakesItEstablished()
    {
        var (t, w, map) = WarmTcp();
        w.Open(t, 40010);
        Assert.Single(map.Entries); // held from the SYN: the handshake's ACK and the request stay in the kernel
        Assert.Equal("SYN_RECV", State(t, 40010));

        map.Forward(6, 40010, 80, 52, 1); // the handshake's ACK
        map.Forward(6, 40010, 80, 300, 1); // the request
        Assert.Equal(0, w.Expire(t.NowMs, 1024));
        Assert.Equal("ESTABLISHED", State(t, 40010));
        var d = t.Dest(Tcp80, Rs1);
        Assert.Equal(4UL, d.Stats.InPackets); // two SYNs in C#, two segments in the kernel
        Assert.Equal(2u, d.ActiveConns);

        map.Forward(6, 40010, 80, 52, 1, fin: true); // the client's FIN, forwarded and moved along the fin row there
        Assert.Equal(0, w.Expire(t.NowMs, 1024));
        Assert.Equal("FIN_WAIT", State(t, 40010));
        Assert.Single(map.Entries); // out of SYN_RECV/ESTABLISHED: a marker now, the rest of it is the C# tier's
        Assert.Equal(0, map.Removes);
        d = t.Dest(Tcp80, Rs1);
        Assert.Equal((1u, 1u), (d.ActiveConns, d.InactiveConns));
        Assert.Equal(5UL, d.Stats.InPackets);
    }

    [Fact]
    public void Tcp_RstBeforeAnySweep_TakesTheKernelsStateFirst()
    {
        var (t, w, map) = WarmTcp();
        w.Open(t, 40011);
        map.Forward(6, 40011, 80, 52, 2);
        // In SYN_RECV this RST would change nothing; the kernel's ACK made it ESTABLISHED, where RST closes it.
        w.Send(t, Tcp(40011, Rst), out var verdict, out _);
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.Equal("CLOSE", State(t, 40011));
        Assert.Empty(map.Entries);
        Assert.Equal(5UL, t.Dest(Tcp80, Rs1).Stats.InPackets);
    }

    [Fact]
    public void Tcp_FinInSynRecv_TimeWaitAsIpvs()
    {
        var (t, w, map) = WarmTcp();
        w.Open(t, 40012);
        map.Forward(6, 40012, 80, 52, 1, fin: true);
        Assert.Equal(0, w.Expire(t.NowMs, 1024));
        Assert.Equal("TIME_WAIT", State(t, 40012));
        Assert.Equal(0, map.Removes); // kept as a marker until the connection expires
    }

    [Fact]
    public void Tcp_RstInSynRecv_StaysInTheKernel()
    {
        var (t, w, map) = WarmTcp();
        w.Open(t, 40013);
        w.Send(t, Tcp(40013, Rst), out _, out _);
        Assert.Equal("SYN_RECV", State(t, 40013)); // the INPUT-ONLY rst row keeps SYN_RECV
        Assert.Equal(IpvsTcpState.SynRecv, Assert.Single(map.Entries).Value.State); // taken back, handed back
        Assert.Equal((2, 1), (map.Installs, map.Removes));
    }

    [Fact]
    public void Tcp_DropEntryDefending_SynStaysInCSharp_AckInstalls()
    {
        var (t, w, map) = WarmTcp(new DefenseSettings { DropEntry = 3 });
        Assert.True(t.Defense.DropEntryActive);
        w.Open(t, 40014);
        Assert.Empty(map.Entries); // spoofed SYNs must not cost map entries
        w.Send(t, Tcp(40014, Ack), out _, out _);
        Assert.Single(map.Entries);
        Assert.Equal("ESTABLISHED", State(t, 40014));
    }

    [Fact]
    public void Tcp_HandedBackByTheKernelsFin_TakenBackAtTheNextDrain_EntryKeptAsAMarker()
    {
        var (t, w, map) = WarmTcp();
        w.Open(t, 40015);
        map.Forward(6, 40015, 80, 52, 2);
        map.Forward(6, 40015, 80, 52, 1, fin: true);
        map.Tell(40015);

        w.DrainKernel(t.NowMs);
        Assert.Equal("FIN_WAIT", State(t, 40015));
        Assert.Equal(0, map.Removes);
        Assert.Single(map.Entries); // the marker: a SYN reusing the client port must not be scheduled as new
        var d = t.Dest(Tcp80, Rs1);
        Assert.Equal(5UL, d.Stats.InPackets);
        Assert.Equal((1u, 1u), (d.ActiveConns, d.InactiveConns));

        // The client's last ACK comes up to C# now, against FIN_WAIT (which the ACK row keeps): no map call.
        w.Send(t, Tcp(40015, Ack), out var verdict, out _);
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.Equal("FIN_WAIT", State(t, 40015));
        Assert.Equal((0, 1), (map.Removes, map.Installs));

        // The connection expires: its marker goes with it.
        _time.Advance(TimeSpan.FromSeconds(121));
        w.Expire(t.NowMs, 1024);
        Assert.Empty(map.Entries);
    }

    [Fact]
    public void SharedCounts_FollowEveryMoveOfEitherTier_ExactlyOnce()
    {
        var t = new IpvsTable(_time, 1, 1024);
        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(Tcp80, "wlc")));
        Assert.Equal(IpvsErrno.Ok, t.AddDest(Tcp80, new DestSpec(Rs1, 80, ForwardingMethod.DirectRoute, 1)));
        var w = t.CreateWorker(0);
        var map = new FakeMap();
        w.FastPath = map;
        var rs1 = t.Snapshot.Services.Single().DestArray.Single();
        rs1.Mac = Rs1Mac;
        void SharedEqualsTheTable(string when)
        {
            var d = t.Dest(Tcp80, Rs1);
            Assert.True(((int)d.ActiveConns, (int)d.InactiveConns) == map.Shared.GetValueOrDefault(rs1.KernelId),
                $"{when}: table {d.ActiveConns}/{d.InactiveConns}, shared {map.Shared.GetValueOrDefault(rs1.KernelId)}");
        }

        // C# schedules a SYN and holds it in the kernel from SYN_RECV (active); the kernel's ACK keeps it active.
        w.Open(t, 40020);
        SharedEqualsTheTable("C# SYN");
        map.Forward(6, 40020, 80, 52, 1);
        w.Expire(t.NowMs, 1024);
        SharedEqualsTheTable("ACK in the kernel, folded");

        // The kernel's FIN moves it to InActConn there; the fold here must not move the shared counts again.
        map.Forward(6, 40020, 80, 52, 1, fin: true);
        map.Tell(40020);
        w.DrainKernel(t.NowMs);
        Assert.Equal("FIN_WAIT", State(t, 40020));
        SharedEqualsTheTable("FIN in the kernel, handed back");

        // A RST that comes up: C# moves it itself.
        w.Open(t, 40021);
        w.Send(t, Tcp(40021, Rst), out _, out _);
        SharedEqualsTheTable("RST in C#");

        // The kernel schedules a SYN (and counted it); the worker adds it without counting it again.
        map.Schedule(40022, Rs1Mac, rs1.KernelId);
        ((IKernelEvents)w).Scheduled(6, U32(Client), 40022, U32(Vip), 80, U32(Rs1), 80, 0);
        Assert.Equal("SYN_RECV", State(t, 40022));
        SharedEqualsTheTable("SYN scheduled in the kernel");

        // Everything expires (the kernel saw nothing more of 40022 either): nothing is left anywhere.
        _time.Advance(TimeSpan.FromSeconds(121));
        var held = ((byte)6, U32(Client), (ushort)40022, U32(Vip), (ushort)80);
        map.Entries[held] = map.Entries[held] with { IdleMs = 121_000 };
        w.Expire(t.NowMs, 1024);
        Assert.Empty(t.GetConnections());
        SharedEqualsTheTable("all expired");
        Assert.Equal((0, 0), map.Shared[rs1.KernelId]);
    }

    [Fact]
    public void Tcp_SynReusingAMarkerInTheKernel_BackToSynRecvAndHeld()
    {
        var (t, w, map) = WarmTcp();
        w.Open(t, 40016);
        map.Forward(6, 40016, 80, 52, 1);
        map.Forward(6, 40016, 80, 52, 1, fin: true);
        map.Tell(40016);
        w.DrainKernel(t.NowMs);
        Assert.Equal("FIN_WAIT", State(t, 40016));

        // The program forwards a SYN on the marker (the syn row: FIN_WAIT -> SYN_RECV, same dest) and tells.
        var key = ((byte)6, U32(Client), (ushort)40016, U32(Vip), (ushort)80);
        var e = map.Entries[key];
        map.Entries[key] = e with { Packets = e.Packets + 1, Bytes = e.Bytes + 60, State = IpvsTcpState.SynRecv };
        map.Tell(40016);
        w.DrainKernel(t.NowMs);
        Assert.Equal("SYN_RECV", State(t, 40016));
        var d = t.Dest(Tcp80, Rs1);
        Assert.Equal((2u, 0u), (d.ActiveConns, d.InactiveConns));
        Assert.Equal(5UL, d.Stats.InPackets);

        // Held again: the handshake's ACK in the kernel makes it ESTABLISHED at the sweep.
        map.Forward(6, 40016, 80, 52, 1);
        w.Expire(t.NowMs, 1024);
        Assert.Equal("ESTABLISHED", State(t, 40016));
    }
}
