using Fulcrum.Balancing;
using Fulcrum.Packets;
using Microsoft.Extensions.Time.Testing;
using static Fulcrum.Tests.Balancing.Lab;

namespace Fulcrum.Tests.Balancing;

/// <summary>The SYN-flood defense: update_defense_level's modes and what the workers do with them.</summary>
public class DefenseTests
{
    private readonly FakeTimeProvider _time = new();

    private IpvsTable Table(DefenseSettings defense, int capacity = 64, int workers = 1)
    {
        var table = new IpvsTable(_time, workers, capacity, defense);
        Assert.Equal(IpvsErrno.Ok, table.AddService(new ServiceSpec(Tcp80, "rr")));
        Assert.Equal(IpvsErrno.Ok, table.AddDest(Tcp80, new DestSpec(Rs1, 80, ForwardingMethod.DirectRoute, 1)));
        return table;
    }

    [Fact]
    public void Update_AutomaticModes_OnBelowThreshold_BackToOneWhenRoomReturns()
    {
        var d = new IpvsDefense(new DefenseSettings { AmemThresh = 100, DropEntry = 1, DropPacket = 1, SecureTcp = 1 }, 1000);
        Assert.False(d.DropEntryActive);
        Assert.Equal(0, d.DropRate);
        Assert.False(d.SecureTcpActive);

        d.Update(50);
        Assert.True(d.DropEntryActive);
        Assert.Equal(100 / (100 - 50), d.DropRate);
        Assert.True(d.SecureTcpActive);
        Assert.Equal((2, 2, 2), (d.DropEntryMode, d.DropPacketMode, d.SecureTcpMode));

        d.Update(99);
        Assert.Equal(100, d.DropRate); // 100 / (100 - 99): the closer to the threshold, the rarer the drops

        d.Update(100);
        Assert.False(d.DropEntryActive);
        Assert.Equal(0, d.DropRate);
        Assert.False(d.SecureTcpActive);
        Assert.Equal((1, 1, 1), (d.DropEntryMode, d.DropPacketMode, d.SecureTcpMode));
    }

    [Fact]
    public void Update_NoRoomLeft_DropRateOne()
    {
        var d = new IpvsDefense(new DefenseSettings { AmemThresh = 100, DropPacket = 2 }, 1000);
        d.Update(0);
        Assert.Equal(1, d.DropRate);
    }

    [Fact]
    public void Update_ModeThree_AlwaysOn_WithAmDropRate()
    {
        var d = new IpvsDefense(new DefenseSettings { DropEntry = 3, DropPacket = 3, SecureTcp = 3, AmDropRate = 7 }, 1000);
        d.Update(1000);
        Assert.True(d.DropEntryActive);
        Assert.Equal(7, d.DropRate);
        Assert.True(d.SecureTcpActive);
        Assert.Equal((3, 3, 3), (d.DropEntryMode, d.DropPacketMode, d.SecureTcpMode));
    }

    [Fact]
    public void Update_ModeZero_NeverOn()
    {
        var d = new IpvsDefense(new DefenseSettings(), 1000);
        d.Update(0);
        Assert.False(d.DropEntryActive);
        Assert.Equal(0, d.DropRate);
        Assert.False(d.SecureTcpActive);
    }

    [Fact]
    public void AmemThresh_Default_AnEighthOfTheBound()
    {
        Assert.Equal(125, new IpvsDefense(new DefenseSettings(), 1000).AmemThresh);
        Assert.Equal(40, new IpvsDefense(new DefenseSettings { AmemThresh = 40 }, 1000).AmemThresh);
    }

    [Theory]
    [InlineData(4, 0, 0, 10)]
    [InlineData(0, -1, 0, 10)]
    [InlineData(0, 0, 5, 10)]
    [InlineData(0, 0, 0, 0)]
    public void Validate_OutOfRange_Rejected(int dropEntry, int dropPacket, int secureTcp, int amDropRate)
    {
        var settings = new DefenseSettings { DropEntry = dropEntry, DropPacket = dropPacket, SecureTcp = secureTcp, AmDropRate = amDropRate };
        Assert.NotNull(settings.Validate());
        Assert.Throws<ArgumentException>(() => new IpvsDefense(settings, 100));
    }

    [Fact]
    public void UpdateDefense_FreeRoomOfEveryWorkersTable()
    {
        var t = Table(new DefenseSettings { AmemThresh = 5, DropEntry = 1 }, capacity: 10, workers: 2);
        var w0 = t.CreateWorker(0);
        var w1 = t.CreateWorker(1);
        for (ushort p = 1; p <= 8; p++)
        {
            w0.Open(t, p);
            w1.Open(t, (ushort)(100 + p));
        }

        t.UpdateDefense();
        Assert.Equal(4, t.Defense.Available);
        Assert.True(t.Defense.DropEntryActive);
        Assert.Equal(16, t.ConnectionCount);
    }

    [Fact]
    public void Process_DropPacket_DropsOneNewConnectionInRate_ExistingFlowsNever()
    {
        var t = Table(new DefenseSettings { DropPacket = 3, AmDropRate = 4 });
        var w = t.CreateWorker(0);
        var verdicts = new List<BalanceVerdict>();
        var reasons = new List<DropReason>();
        for (ushort p = 1; p <= 8; p++)
        {
            w.Send(t, Tcp(p, Syn), out var verdict, out var reason);
            verdicts.Add(verdict);
            reasons.Add(reason);
        }

        Assert.Equal([BalanceVerdict.Forward, BalanceVerdict.Forward, BalanceVerdict.Forward, BalanceVerdict.Drop,
            BalanceVerdict.Forward, BalanceVerdict.Forward, BalanceVerdict.Forward, BalanceVerdict.Drop], verdicts);
        Assert.Equal(DropReason.DefenseDropPacket, reasons[3]);
        for (int i = 0; i < 20; i++)
        {
            w.Send(t, Tcp(1, Ack), out var verdict, out _);
            Assert.Equal(BalanceVerdict.Forward, verdict);
        }
    }

    [Fact]
    public void Process_DropPacketOnUdp_DropsNewFlowsToo()
    {
        var t = new IpvsTable(_time, 1, 64, new DefenseSettings { DropPacket = 3, AmDropRate = 1 });
        t.AddService(new ServiceSpec(Udp53, "rr"));
        t.AddDest(Udp53, new DestSpec(Rs1, 53, ForwardingMethod.DirectRoute, 1));
        var w = t.CreateWorker(0);
        w.Send(t, Udp(1), out var verdict, out var reason);
        Assert.Equal(BalanceVerdict.Drop, verdict);
        Assert.Equal(DropReason.DefenseDropPacket, reason);
    }

    [Fact]
    public void RandomDropEntry_DropsOnlyEmbryonicEntries_AndTheirCounts()
    {
        var t = Table(new DefenseSettings { DropEntry = 3 });
        var w = t.CreateWorker(0);
        for (ushort p = 1; p <= 10; p++)
        {
            w.Open(t, p);
            if (p % 2 == 0)
                w.Send(t, Tcp(p, Ack), out _, out _);
        }

        Assert.True(t.Defense.DropEntryActive);
        for (int i = 0; i < 500 && w.DroppedEntries < 5; i++)
            w.RandomDropEntry();

        Assert.Equal(5, w.DroppedEntries);
        var left = t.GetConnections();
        Assert.Equal(5, left.Count);
        Assert.All(left, c => Assert.Equal("ESTABLISHED", c.State));
        Assert.All(left, c => Assert.Equal(0, c.ClientPort % 2));
        Assert.Equal(5u, t.Dest(Tcp80, Rs1).ActiveConns);
        Assert.Equal(0u, t.Dest(Tcp80, Rs1).InactiveConns);
    }

    [Fact]
    public void Process_TableFullUnderDropEntry_RecyclesAnEmbryonicEntry()
    {
        var t = Table(new DefenseSettings { DropEntry = 3 }, capacity: 16);
        var w = t.CreateWorker(0);
        for (ushort p = 1; p <= 16; p++)
            w.Open(t, p);

        w.Open(t, 17);
        Assert.Equal(16, w.Count);
        Assert.Equal(1, w.DroppedEntries);
    }

    [Fact]
    public void Process_TableFullOfEstablished_RefusesEvenUnderDropEntry()
    {
        var t = Table(new DefenseSettings { DropEntry = 3 }, capacity: 16);
        var w = t.CreateWorker(0);
        for (ushort p = 1; p <= 16; p++)
        {
            w.Open(t, p);
            w.Send(t, Tcp(p, Ack), out _, out _);
        }

        w.Send(t, Tcp(17, Syn), out var verdict, out var reason);
        Assert.Equal(BalanceVerdict.Drop, verdict);
        Assert.Equal(DropReason.TableFull, reason);
    }

    [Fact]
    public void Process_TableFullWithoutDropEntry_TableFull()
    {
        var t = Table(new DefenseSettings(), capacity: 16);
        var w = t.CreateWorker(0);
        for (ushort p = 1; p <= 16; p++)
            w.Open(t, p);

        w.Send(t, Tcp(17, Syn), out var verdict, out var reason);
        Assert.Equal(DropReason.TableFull, reason);
        Assert.Equal(BalanceVerdict.Drop, verdict);
    }

    [Fact]
    public void Process_SecureTcp_SynLeavesSynAck_AckEstablishes()
    {
        var t = Table(new DefenseSettings { SecureTcp = 3 });
        var w = t.CreateWorker(0);
        w.Open(t, 1);
        Assert.Equal("SYNACK", t.GetConnections().Single().State);
        w.Send(t, Tcp(1, Ack), out _, out _);
        Assert.Equal("ESTABLISHED", t.GetConnections().Single().State);
    }

    [Theory]
    // INPUT-ONLY rows of tcp_states_dos (DR/TUN connections): a SYN parks a new connection in SYNACK.
    [InlineData(IpvsTcpState.None, Syn, true, IpvsTcpState.SynAck)]
    [InlineData(IpvsTcpState.TimeWait, Syn, true, IpvsTcpState.SynAck)]
    [InlineData(IpvsTcpState.SynAck, Ack, true, IpvsTcpState.Established)]
    [InlineData(IpvsTcpState.SynRecv, Syn, true, IpvsTcpState.SynRecv)]
    // INPUT rows (NAT): the client's ACK alone no longer establishes a connection.
    [InlineData(IpvsTcpState.SynRecv, Ack, false, IpvsTcpState.SynRecv)]
    [InlineData(IpvsTcpState.SynAck, Fin, false, IpvsTcpState.SynAck)]
    [InlineData(IpvsTcpState.SynAck, Rst, false, IpvsTcpState.Close)]
    public void Next_SecureTcp_FollowsTcpStatesDos(IpvsTcpState from, byte flags, bool inputOnly, IpvsTcpState to)
    {
        Assert.Equal(to, TcpStateMachine.Next(from, flags, inputOnly, secure: true));
    }

    [Fact]
    public void Process_UpperThresholdAcrossWorkers_SumsEveryWorkersConnections()
    {
        // The kernel's counters are global atomics; here each worker counts in its own slot and the check
        // sums the slots, so two workers together reach the threshold as one would.
        var t = new IpvsTable(_time, 2, 64);
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        t.AddDest(Tcp80, new DestSpec(Rs1, 80, ForwardingMethod.DirectRoute, 1, UpperThreshold: 2));
        var w0 = t.CreateWorker(0);
        var w1 = t.CreateWorker(1);
        var rs = w0.Open(t, 1);
        Assert.False(rs.IsOverloaded);
        w1.Open(t, 2);
        Assert.True(rs.IsOverloaded);
        w0.Send(t, Tcp(3, Syn), out _, out var reason);
        Assert.Equal(DropReason.NoRealServer, reason);

        // One connection closes on worker 0: 1 of 2 is below 3/4 of the threshold.
        w0.Send(t, Tcp(1, Ack), out _, out _);
        w0.Send(t, Tcp(1, Rst), out _, out _);
        _time.Advance(TimeSpan.FromSeconds(11));
        w0.Expire(t.NowMs, 100);
        Assert.False(rs.IsOverloaded);
    }
}
