using Fulcrum.Balancing;
using Fulcrum.Packets;
using Microsoft.Extensions.Time.Testing;
using static Fulcrum.Tests.Balancing.Lab;

namespace Fulcrum.Tests.Balancing;

public class BalancerTests
{
    private readonly FakeTimeProvider _time = new();

    private void Advance(int seconds) => _time.Advance(TimeSpan.FromSeconds(seconds));

    private static ConnectionInfo Conn(IpvsTable t, ushort clientPort) =>
        t.GetConnections().Single(c => c.ClientPort == clientPort);

    private static void Step(IpvsTable t, Balancer w, ushort clientPort, byte flags, string state, uint expires, uint active, uint inactive)
    {
        var dest = w.Send(t, Tcp(clientPort, flags), out var verdict, out var reason);
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.Equal(DropReason.None, reason);
        Assert.NotNull(dest);
        var c = Conn(t, clientPort);
        Assert.Equal(state, c.State);
        Assert.Equal(expires, c.ExpiresSeconds);
        var d = t.Dest(Tcp80, dest.Address);
        Assert.Equal(active, d.ActiveConns);
        Assert.Equal(inactive, d.InactiveConns);
    }

    [Fact]
    public void Process_SynAckFinAckRst_KernelStatesTimeoutsAndCounts()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);

        Step(t, w, 40000, Syn, "SYN_RECV", 60, 1, 0);
        Step(t, w, 40000, Ack, "ESTABLISHED", 900, 1, 0);
        Step(t, w, 40000, Ack | Psh, "ESTABLISHED", 900, 1, 0);
        Step(t, w, 40000, Fin | Ack, "FIN_WAIT", 120, 0, 1);
        Step(t, w, 40000, Ack, "FIN_WAIT", 120, 0, 1);
        Step(t, w, 40000, Rst, "CLOSE", 10, 0, 1);
    }

    [Fact]
    public void Process_SynThenRst_CloseInactive()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);

        Step(t, w, 40001, Syn, "SYN_RECV", 60, 1, 0);
        Step(t, w, 40001, Rst, "SYN_RECV", 60, 1, 0); // a RST in SYN_RECV stays there (rst row, sSR column)
        Step(t, w, 40001, Ack, "ESTABLISHED", 900, 1, 0);
        Step(t, w, 40001, Rst | Ack, "CLOSE", 10, 0, 1);
    }

    [Fact]
    public void Process_TimeoutsSet_UsedForNewState()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        t.SetTimeouts(new IpvsTimeouts(60, 5, 0));

        Step(t, w, 40002, Syn, "SYN_RECV", 60, 1, 0);
        Step(t, w, 40002, Ack, "ESTABLISHED", 60, 1, 0);
        Step(t, w, 40002, Fin | Ack, "FIN_WAIT", 5, 0, 1);
    }

    [Fact]
    public void Process_PacketRefreshesTimeout()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        w.Open(t, 1);
        Step(t, w, 1, Ack, "ESTABLISHED", 900, 1, 0);
        Advance(600);
        Assert.Equal(300u, Conn(t, 1).ExpiresSeconds);

        Step(t, w, 1, Ack, "ESTABLISHED", 900, 1, 0);
    }

    [Fact]
    public void Process_NotAService_NotService()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);

        var dest = w.Send(t, Tcp(1, Syn, vport: 81), out var verdict, out var reason);
        Assert.Equal(BalanceVerdict.NotService, verdict);
        Assert.Null(dest);
        Assert.Equal(DropReason.None, reason);

        w.Send(t, Udp(1, vport: 80), out verdict, out _);
        Assert.Equal(BalanceVerdict.NotService, verdict);
        Assert.Equal(0, w.Count);
    }

    [Theory]
    [InlineData(Ack)]
    [InlineData(Ack | Psh)]
    [InlineData(Fin | Ack)]
    [InlineData(Rst)]
    [InlineData(Syn | Rst)]
    [InlineData(0)]
    public void Process_NewTcpWithoutSyn_DropNotSyn(byte flags)
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);

        var dest = w.Send(t, Tcp(1, flags), out var verdict, out var reason);

        Assert.Equal(BalanceVerdict.Drop, verdict);
        Assert.Equal(DropReason.NotSyn, reason);
        Assert.Null(dest);
        Assert.Equal(0, w.Count);
        Assert.Equal(0ul, t.GetService(Tcp80)!.Stats.Conns);
    }

    [Theory]
    [InlineData(Ack)]
    [InlineData(Ack | Psh)]
    public void Process_SloppyTcpMidStreamAck_ScheduledEstablished(byte flags)
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        t.SloppyTcp = true;
        var w = t.CreateWorker(0);

        // A takeover without sync: the first packet this director sees of the flow is mid-stream.
        Step(t, w, 1, flags, "ESTABLISHED", 900, 1, 0);
    }

    [Theory]
    [InlineData(Rst)]
    [InlineData(Rst | Ack)]
    public void Process_SloppyTcpRst_StillDropNotSyn(byte flags)
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        t.SloppyTcp = true;
        var w = t.CreateWorker(0);

        w.Send(t, Tcp(1, flags), out var verdict, out var reason);

        Assert.Equal(BalanceVerdict.Drop, verdict);
        Assert.Equal(DropReason.NotSyn, reason);
        Assert.Equal(0, w.Count);
    }

    [Fact]
    public void Process_SynAck_ScheduledAsTheKernelDoes()
    {
        // tcp_conn_schedule has no !ack check ("to allow scheduling on SYN+ACK for Active FTP").
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        w.Send(t, Tcp(1, Syn | Ack), out var verdict, out _);
        Assert.Equal(BalanceVerdict.Forward, verdict);
    }

    [Fact]
    public void Process_ExistingFlow_SameDestAndCounted()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1), (Rs2, 1)]);
        var w = t.CreateWorker(0);
        var first = w.Open(t, 1);

        for (int i = 0; i < 5; i++)
            Assert.Same(first, w.Send(t, Tcp(1, Ack, length: 100), out _, out _));

        var svc = t.GetService(Tcp80)!;
        Assert.Equal(new IpvsStats(1, 6, 0, 560, 0), svc.Stats);
        Assert.Equal(new IpvsStats(1, 6, 0, 560, 0), t.Dest(Tcp80, first.Address).Stats);
        Assert.Equal(1, w.Count);
    }

    [Fact]
    public void Process_ClientsFromDifferentAddresses_SeparateConnections()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1), (Rs2, 1)]);
        var w = t.CreateWorker(0);
        var a = w.Open(t, 1);
        var b = w.Open(t, 1, System.Net.IPAddress.Parse("203.0.113.11"));

        Assert.NotSame(a, b);
        Assert.Equal(2, w.Count);
    }

    [Fact]
    public void Process_Udp_InactiveConnectionWithUdpTimeout()
    {
        var t = new IpvsTable(_time, 1, 64);
        t.AddService(new ServiceSpec(Udp53, "rr"));
        t.AddDest(Udp53, new DestSpec(Rs1, 53));
        t.AddDest(Udp53, new DestSpec(Rs2, 53));
        var w = t.CreateWorker(0);

        var first = w.Send(t, Udp(5000, 50), out var verdict, out _);
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.Same(first, w.Send(t, Udp(5000, 70), out _, out _));
        var other = w.Send(t, Udp(5001, 30), out _, out _);
        Assert.NotSame(first, other);

        var c = t.GetConnections().Single(x => x.ClientPort == 5000);
        Assert.Equal("UDP", c.State);
        Assert.Equal(300u, c.ExpiresSeconds);
        Assert.Equal(IpProtocol.Udp, c.Protocol);
        var d = t.GetService(Udp53)!.Dests.Single(x => x.Spec.Address.Equals(first!.Address));
        Assert.Equal(0u, d.ActiveConns);
        Assert.Equal(1u, d.InactiveConns);
        Assert.Equal(new IpvsStats(2, 3, 0, 150, 0), t.GetService(Udp53)!.Stats);

        Advance(300);
        Assert.Equal(2, w.Expire(t.NowMs, 100));
        Assert.Equal(0u, t.GetService(Udp53)!.Dests[0].InactiveConns);
        Assert.Equal(0u, t.GetService(Udp53)!.Dests[1].InactiveConns);
        Assert.Empty(t.GetConnections());
    }

    [Fact]
    public void Process_UdpOnePacket_EachDatagramScheduledNoEntry()
    {
        var t = new IpvsTable(_time, 1, 64);
        t.AddService(new ServiceSpec(Udp53, "rr", OnePacket: true));
        t.AddDest(Udp53, new DestSpec(Rs1, 53));
        t.AddDest(Udp53, new DestSpec(Rs2, 53));
        var w = t.CreateWorker(0);

        var a = w.Send(t, Udp(5000), out _, out _);
        var b = w.Send(t, Udp(5000), out _, out _);

        Assert.NotSame(a, b);
        Assert.Equal(0, w.Count);
        Assert.Equal(new IpvsStats(2, 2, 0, 80, 0), t.GetService(Udp53)!.Stats);
        Assert.Equal(0u, t.GetService(Udp53)!.Dests[0].InactiveConns);
    }

    [Fact]
    public void Process_UdpTimeoutSet_Used()
    {
        var t = new IpvsTable(_time, 1, 64);
        t.AddService(new ServiceSpec(Udp53, "rr"));
        t.AddDest(Udp53, new DestSpec(Rs1, 53));
        t.SetTimeouts(new IpvsTimeouts(0, 0, 20));
        var w = t.CreateWorker(0);
        var p = Udp(5000);
        w.Process(ref p, t.NowMs, out _, out _);

        Assert.Equal(20u, t.GetConnections().Single().ExpiresSeconds);
    }

    [Fact]
    public void Process_ConnectionInfo_DescribesFlow()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        t.CreateWorker(0).Open(t, 40000);

        var c = Assert.Single(t.GetConnections());
        Assert.Equal(new ConnectionInfo(IpProtocol.Tcp, Client, 40000, Vip, 80, Rs1, 80, "SYN_RECV", 60), c);
    }

    [Fact]
    public void Expire_AfterTimeout_FreesEntryAndCounters()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        w.Open(t, 1);
        w.Open(t, 2);
        w.Send(t, Tcp(2, Ack), out _, out _); // ESTABLISHED: 900 s

        Advance(59);
        Assert.Equal(0, w.Expire(t.NowMs, 100));
        Advance(1);
        Assert.Equal(1, w.Expire(t.NowMs, 100));

        Assert.Equal(1, w.Count);
        Assert.Equal(1u, t.Dest(Tcp80, Rs1).ActiveConns);
        Assert.Equal(2, Conn(t, 2).ClientPort);

        Advance(900);
        Assert.Equal(1, w.Expire(t.NowMs, 100));
        Assert.Equal(0, w.Count);
        Assert.Equal(0u, t.Dest(Tcp80, Rs1).ActiveConns);
        Assert.Equal(0u, t.Dest(Tcp80, Rs1).InactiveConns);
    }

    [Fact]
    public void Expire_Budget_BoundsWorkPerCall()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        for (ushort p = 1; p <= 10; p++)
            w.Open(t, p);
        Advance(61);

        Assert.Equal(3, w.Expire(t.NowMs, 3));
        Assert.Equal(7, w.Count);
        Assert.Equal(3, w.Expire(t.NowMs, 3));
        Assert.Equal(3, w.Expire(t.NowMs, 3));
        Assert.Equal(1, w.Expire(t.NowMs, 3));
        Assert.Equal(0, w.Count);
        Assert.Equal(0u, t.Dest(Tcp80, Rs1).ActiveConns);
    }

    [Fact]
    public void Expire_FreedSlotsReused_NoGrowth()
    {
        var t = Table(_time, "rr", Tcp80, capacity: 4, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        for (int round = 0; round < 5; round++)
        {
            for (ushort p = 1; p <= 4; p++)
                w.Open(t, (ushort)(round * 10 + p));
            Advance(61);
            Assert.Equal(4, w.Expire(t.NowMs, 100));
        }
        Assert.Equal(0, w.Count);
    }

    [Fact]
    public void Process_ExpiredButNotSwept_TreatedAsGone()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        w.Open(t, 1);
        Advance(60);

        w.Send(t, Tcp(1, Ack), out var verdict, out var reason);

        Assert.Equal(BalanceVerdict.Drop, verdict);
        Assert.Equal(DropReason.NotSyn, reason);
        Assert.Equal(0, w.Count);
        Assert.Equal(0u, t.Dest(Tcp80, Rs1).ActiveConns);
    }

    [Fact]
    public void Process_TableFull_DropTableFullExistingFlowsContinue()
    {
        var t = Table(_time, "rr", Tcp80, capacity: 2, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        w.Open(t, 1);
        w.Open(t, 2);

        w.Send(t, Tcp(3, Syn), out var verdict, out var reason);
        Assert.Equal(BalanceVerdict.Drop, verdict);
        Assert.Equal(DropReason.TableFull, reason);

        w.Send(t, Tcp(1, Ack), out verdict, out _);
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.Equal(2ul, t.GetService(Tcp80)!.Stats.Conns);

        Advance(61);
        w.Expire(t.NowMs, 10);
        w.Open(t, 3);
    }

    [Fact]
    public void Process_WeightZero_NoNewConnectionsExistingKeepFlowing()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1), (Rs2, 1)]); // list B A
        var w = t.CreateWorker(0);
        var b = w.Open(t, 1);
        Assert.Equal(Rs2, b.Address);

        t.EditDest(Tcp80, new DestSpec(Rs2, 80, Weight: 0));

        for (ushort p = 2; p < 8; p++)
            Assert.Equal(Rs1, w.Open(t, p).Address);
        Assert.Same(b, w.Send(t, Tcp(1, Ack), out var verdict, out _));
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.Equal(1u, t.Dest(Tcp80, Rs2).ActiveConns);
        Assert.Equal(2ul, t.Dest(Tcp80, Rs2).Stats.InPackets);
    }

    [Fact]
    public void Process_DestDeleted_ExistingFlowsKeepTheirServerUncounted()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1), (Rs2, 1)]); // list B A
        var w = t.CreateWorker(0);
        var b = w.Open(t, 1);

        t.DeleteDest(Tcp80, Rs2, 80);

        Assert.Same(b, w.Send(t, Tcp(1, Ack), out var verdict, out _));
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.False(b.IsAvailable);
        Assert.Equal(1, b.ActiveConns);
        // ip_vs_in_stats counts only for an available dest.
        Assert.Equal(1ul, t.GetService(Tcp80)!.Stats.InPackets);
        Assert.Equal(Rs1, w.Open(t, 2).Address);
        Assert.Equal(Rs1, w.Open(t, 3).Address);
    }

    [Fact]
    public void AddDest_DeletedWithConnections_SameObjectBack()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        var a = w.Open(t, 1);
        t.DeleteDest(Tcp80, Rs1, 80);

        Assert.Equal(IpvsErrno.Ok, t.AddDest(Tcp80, new DestSpec(Rs1, 80, Weight: 2)));

        var back = t.Snapshot.Services[0].Dests[0];
        Assert.Same(a, back);
        Assert.True(back.IsAvailable);
        Assert.Equal(2, back.Weight);
        Assert.Equal(1u, t.Dest(Tcp80, Rs1).ActiveConns);
    }

    [Fact]
    public void AddDest_DeletedWithoutConnections_FreshObject()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var before = t.Snapshot.Services[0].Dests[0];
        t.DeleteDest(Tcp80, Rs1, 80);
        t.AddDest(Tcp80, new DestSpec(Rs1, 80));
        Assert.NotSame(before, t.Snapshot.Services[0].Dests[0]);
    }

    [Fact]
    public void Process_ServiceDeleted_NotService()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        w.Open(t, 1);
        t.DeleteService(Tcp80);

        w.Send(t, Tcp(1, Ack), out var verdict, out _);
        Assert.Equal(BalanceVerdict.NotService, verdict);
    }

    [Fact]
    public void Process_UpperThreshold_OverloadedSkippedUntilBelowThreeQuarters()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs2, 1)]);
        t.AddDest(Tcp80, new DestSpec(Rs1, 80, UpperThreshold: 4)); // list A(upper 4) B
        var w = t.CreateWorker(0);
        var a = t.Snapshot.Services[0].Dests[0];

        for (ushort p = 1; p <= 8; p++)
            w.Open(t, p); // A B A B A B A B: A reaches 4
        Assert.True(a.IsOverloaded);
        Assert.Equal(Rs2, w.Open(t, 9).Address);
        Assert.Equal(Rs2, w.Open(t, 10).Address);

        // Close A's connections (ports 1 3 5 7) one by one; the flag clears when 4 * total < 3 * 4.
        foreach (ushort p in new ushort[] { 1, 3 })
        {
            w.Send(t, Tcp(p, Ack), out _, out _); // a RST in SYN_RECV would leave it there
            w.Send(t, Tcp(p, Rst), out _, out _);
        }
        Advance(11);
        Assert.Equal(2, w.Expire(t.NowMs, 100));
        Assert.False(a.IsOverloaded);
        Assert.Equal(Rs1, w.Open(t, 11).Address);
    }

    [Fact]
    public void Process_LowerThreshold_ClearsOnlyBelowIt()
    {
        var t = Table(_time, "rr", Tcp80);
        t.AddDest(Tcp80, new DestSpec(Rs1, 80, UpperThreshold: 2, LowerThreshold: 1));
        var w = t.CreateWorker(0);
        var a = w.Open(t, 1);
        w.Open(t, 2);
        Assert.True(a.IsOverloaded);
        w.Send(t, Tcp(3, Syn), out var verdict, out var reason);
        Assert.Equal(BalanceVerdict.Drop, verdict);
        Assert.Equal(DropReason.NoRealServer, reason);

        w.Send(t, Tcp(1, Ack), out _, out _);
        w.Send(t, Tcp(1, Rst), out _, out _);
        Advance(11);
        w.Expire(t.NowMs, 100);
        Assert.True(a.IsOverloaded); // total 1, not below 1
        Advance(50);
        w.Expire(t.NowMs, 100);
        Assert.False(a.IsOverloaded);
    }

    [Fact]
    public void EditDest_UpperThresholdRaised_OverloadLiftedAtOnce()
    {
        var t = Table(_time, "rr", Tcp80);
        t.AddDest(Tcp80, new DestSpec(Rs1, 80, UpperThreshold: 1));
        var a = t.CreateWorker(0).Open(t, 1);
        Assert.True(a.IsOverloaded);

        t.EditDest(Tcp80, new DestSpec(Rs1, 80, UpperThreshold: 5));
        Assert.False(a.IsOverloaded);
    }

    [Fact]
    public void Process_SynOnClosedConnection_RescheduledAsNew()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1), (Rs2, 1)]); // list B A
        var w = t.CreateWorker(0);
        Assert.Equal(Rs2, w.Open(t, 1).Address);
        w.Send(t, Tcp(1, Ack), out _, out _);
        w.Send(t, Tcp(1, Rst), out _, out _); // CLOSE

        Assert.Equal(Rs1, w.Open(t, 1).Address);

        Assert.Equal(1, w.Count);
        Assert.Equal(2ul, t.GetService(Tcp80)!.Stats.Conns);
        Assert.Equal(0u, t.Dest(Tcp80, Rs2).InactiveConns);
        Assert.Equal(1u, t.Dest(Tcp80, Rs1).ActiveConns);
    }

    [Fact]
    public void Process_SynOnEstablishedConnection_SameConnection()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1), (Rs2, 1)]);
        var w = t.CreateWorker(0);
        var first = w.Open(t, 1);
        w.Send(t, Tcp(1, Ack), out _, out _);

        Assert.Same(first, w.Open(t, 1));
        Assert.Equal(1ul, t.GetService(Tcp80)!.Stats.Conns);
        Assert.Equal("ESTABLISHED", Conn(t, 1).State);
    }

    [Fact]
    public void Workers_TwoTables_CountsSummedConnectionsListed()
    {
        var t = Table(_time, "rr", Tcp80, workers: 2, dests: [(Rs1, 1)]);
        var w0 = t.CreateWorker(0);
        var w1 = t.CreateWorker(1);
        w0.Open(t, 1);
        w1.Open(t, 2);
        w1.Open(t, 3);

        Assert.Equal(3u, t.Dest(Tcp80, Rs1).ActiveConns);
        Assert.Equal(3ul, t.GetService(Tcp80)!.Stats.Conns);
        Assert.Equal(3, t.GetConnections().Count);

        Advance(61);
        Assert.Equal(2, w1.Expire(t.NowMs, 100));
        Assert.Equal(1u, t.Dest(Tcp80, Rs1).ActiveConns);
    }

    [Fact]
    public void Mac_SetByNeighbourService_VisibleOnDest()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var rs = t.Snapshot.Services[0].Dests[0];
        Assert.Equal(0ul, rs.Mac);
        rs.Mac = 0x02_00_00_00_00_02;
        Assert.Equal(0x02_00_00_00_00_02ul, t.CreateWorker(0).Open(t, 1).Mac);
    }
}
