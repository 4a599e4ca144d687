using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Packets;
using Microsoft.Extensions.Time.Testing;
using static Fulcrum.Tests.Balancing.Lab;

namespace Fulcrum.Tests.Balancing;

/// <summary>ipvsadm -p / -M: ip_vs_sched_persist's templates, driven through the balancer.</summary>
public class PersistenceTests
{
    private static readonly IPAddress Neighbour = IPAddress.Parse("203.0.113.20");
    private static readonly IPAddress Stranger = IPAddress.Parse("203.0.113.130");

    private readonly FakeTimeProvider _time = new();
    private ushort _port = 20000;

    private void Advance(int seconds) => _time.Advance(TimeSpan.FromSeconds(seconds));

    /// <summary>rr over A and B (list B A) with -p timeout -M prefix.</summary>
    private IpvsTable Table(uint timeout = 30, int prefix = 32, ServiceKey? key = null, bool onePacket = false)
    {
        var k = key ?? Tcp80;
        var t = new IpvsTable(_time, 1, 1024);
        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(k, "rr", PersistenceTimeout: timeout, NetmaskPrefix: prefix, OnePacket: onePacket)));
        Assert.Equal(IpvsErrno.Ok, t.AddDest(k, new DestSpec(Rs1, k.Port)));
        Assert.Equal(IpvsErrno.Ok, t.AddDest(k, new DestSpec(Rs2, k.Port)));
        return t;
    }

    private IPAddress Connect(IpvsTable t, Balancer w, IPAddress? client = null) => w.Open(t, _port++, client).Address;

    private static ConnectionInfo[] Templates(IpvsTable t) => [.. t.GetConnections().Where(c => c.ClientPort == 0)];

    [Fact]
    public void Persistent_NewConnectionsFromOneClient_SameDest()
    {
        var t = Table();
        var w = t.CreateWorker(0);
        var first = Connect(t, w);
        for (int i = 0; i < 5; i++)
            Assert.Equal(first, Connect(t, w));
        // Another client is scheduled: rr moved on once.
        Assert.NotEqual(first, Connect(t, w, Neighbour));
    }

    [Fact]
    public void Persistent_Netmask24_GroupsTwoClientsOfOneSubnet()
    {
        var t = Table(prefix: 24);
        var w = t.CreateWorker(0);
        var first = Connect(t, w);
        Assert.Equal(first, Connect(t, w, Neighbour));
        Assert.Equal(first, Connect(t, w, Neighbour));

        // The template is keyed by the network: 203.0.113.0:0.
        var template = Assert.Single(Templates(t));
        Assert.Equal(IPAddress.Parse("203.0.113.0"), template.Client);
        Assert.Equal("NONE", template.State);
        Assert.Equal((ushort)80, template.VirtualPort);
    }

    [Fact]
    public void Persistent_Netmask32_TwoClientsScheduledApart()
    {
        var t = Table(prefix: 32);
        var w = t.CreateWorker(0);
        Assert.NotEqual(Connect(t, w), Connect(t, w, Neighbour));
        Assert.Equal(2, Templates(t).Length);
    }

    [Fact]
    public void Persistent_Template_CountedInPersistConnOnly()
    {
        var t = Table();
        var w = t.CreateWorker(0);
        var d = Connect(t, w);
        Connect(t, w);
        var info = t.Dest(Tcp80, d);
        Assert.Equal(1u, info.PersistentConns);
        Assert.Equal(2u, info.ActiveConns);
        Assert.Equal(0u, info.InactiveConns);
        Assert.Equal(2ul, info.Stats.Conns); // templates are not connections in the stats
    }

    [Fact]
    public void Persistent_TemplateOutlivesConnections_UntilTimeout()
    {
        var t = Table(timeout: 30);
        var w = t.CreateWorker(0);
        ushort port = _port++;
        var first = w.Open(t, port).Address;
        w.Send(t, Tcp(port, Ack), out _, out _);
        w.Send(t, Tcp(port, Rst | Ack), out _, out _); // CLOSE: 10 s

        Advance(20);
        w.Expire(t.NowMs, 1024);
        Assert.Single(t.GetConnections()); // only the template is left, 10 s to go
        Assert.Equal(first, Connect(t, w)); // rr alone would go to the other dest

        // That use restarted the timer; the new connection (SYN_RECV, 60 s) keeps it alive anyway.
        Advance(61);
        w.Expire(t.NowMs, 1024);
        Assert.Single(t.GetConnections());
        Advance(61);
        w.Expire(t.NowMs, 1024);
        Assert.Empty(t.GetConnections());
        Assert.Equal(0u, t.Dest(Tcp80, first).PersistentConns);

        Assert.NotEqual(first, Connect(t, w));
    }

    [Fact]
    public void Persistent_TemplateDueWhileControllingConnection_RetriedThenExpires()
    {
        var t = Table(timeout: 30);
        var w = t.CreateWorker(0);
        ushort port = _port++;
        var first = w.Open(t, port).Address;
        w.Send(t, Tcp(port, Rst), out _, out _); // stays SYN_RECV: 60 s

        // At 30 s the template's timer finds a connection it controls: ip_vs_conn_expire retries in 60 s.
        Advance(31);
        w.Expire(t.NowMs, 1024);
        Assert.Equal(60u, Assert.Single(Templates(t)).ExpiresSeconds);

        Advance(30); // the connection expires; the template has 29 s left
        w.Expire(t.NowMs, 1024);
        Assert.Single(t.GetConnections());

        Advance(30);
        w.Expire(t.NowMs, 1024);
        Assert.Empty(t.GetConnections());
        Assert.NotEqual(first, Connect(t, w));
    }

    [Fact]
    public void Persistent_TemplateWithLiveConnection_KeptPastTimeout()
    {
        var t = Table(timeout: 30);
        var w = t.CreateWorker(0);
        ushort port = _port++;
        var first = w.Open(t, port).Address;
        w.Send(t, Tcp(port, Ack), out _, out _); // ESTABLISHED: 900 s

        Advance(31);
        w.Expire(t.NowMs, 1024);
        var template = Assert.Single(Templates(t));
        Assert.Equal(60u, template.ExpiresSeconds); // retried every 60 s while it controls connections
        Assert.Equal(first, Connect(t, w));
    }

    [Fact]
    public void Persistent_QuiescedDest_KeepsItsClients()
    {
        var t = Table();
        var w = t.CreateWorker(0);
        var first = Connect(t, w);
        Assert.Equal(IpvsErrno.Ok, t.EditDest(Tcp80, new DestSpec(first, 80, Weight: 0)));

        // expire_quiescent_template = 0 (the default): the template still points at the quiesced dest.
        Assert.Equal(first, Connect(t, w));
        // A new client never goes there.
        Assert.NotEqual(first, Connect(t, w, Stranger));
    }

    [Fact]
    public void Persistent_QuiescedDestWithExpireQuiescentTemplate_ClientRescheduled()
    {
        var t = Table();
        t.ExpireQuiescentTemplate = true;
        var w = t.CreateWorker(0);
        var first = Connect(t, w);
        Assert.Equal(IpvsErrno.Ok, t.EditDest(Tcp80, new DestSpec(first, 80, Weight: 0)));

        Assert.NotEqual(first, Connect(t, w));
        // The old template is out of lookups but lives while its connection does.
        Assert.Equal(2, Templates(t).Length);
        Assert.Single(Templates(t), c => c.VirtualPort == 0xFFFF);
    }

    [Fact]
    public void Persistent_DestDeleted_ClientRescheduled()
    {
        var t = Table();
        var w = t.CreateWorker(0);
        var first = Connect(t, w);
        Assert.Equal(IpvsErrno.Ok, t.DeleteDest(Tcp80, first, 80));
        var second = Connect(t, w);
        Assert.NotEqual(first, second);
        Assert.Equal(second, Connect(t, w));
    }

    [Fact]
    public void Persistent_UdpOnePacket_DatagramsFollowTemplate_NoConnections()
    {
        var t = Table(key: Udp53, onePacket: true);
        var w = t.CreateWorker(0);
        var p = Udp(30000);
        var first = w.Send(t, p, out var verdict, out _)!.Address;
        Assert.Equal(BalanceVerdict.Forward, verdict);
        for (int i = 1; i < 6; i++)
            Assert.Equal(first, w.Send(t, Udp((ushort)(30000 + i)), out _, out _)!.Address);
        var template = Assert.Single(t.GetConnections());
        Assert.Equal("UDP", template.State);
        Assert.Equal((ushort)0, template.ClientPort);
        Assert.Equal(6ul, t.Dest(Udp53, first).Stats.Conns);
    }

    [Fact]
    public void OnePacket_WithoutPersistence_RoundRobinPerDatagram()
    {
        var t = new IpvsTable(_time, 1, 1024);
        t.AddService(new ServiceSpec(Udp53, "rr", OnePacket: true));
        t.AddDest(Udp53, new DestSpec(Rs1, 53));
        t.AddDest(Udp53, new DestSpec(Rs2, 53));
        var w = t.CreateWorker(0);
        var a = w.Send(t, Udp(1), out _, out _)!.Address;
        var b = w.Send(t, Udp(1), out _, out _)!.Address;
        Assert.NotEqual(a, b);
        Assert.Empty(t.GetConnections());
    }

    [Fact]
    public void Persistent_ExistingConnection_NotAffectedByTemplate()
    {
        var t = Table();
        var w = t.CreateWorker(0);
        ushort port = _port++;
        var first = w.Open(t, port).Address;
        var again = w.Send(t, Tcp(port, Ack), out var verdict, out _);
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.Equal(first, again!.Address);
        Assert.Equal(2, t.GetConnections().Count); // the connection and its template
    }

    [Fact]
    public void Persistent_TableFullForTemplate_Dropped()
    {
        var t = new IpvsTable(_time, 1, 1);
        t.AddService(new ServiceSpec(Tcp80, "rr", PersistenceTimeout: 30));
        t.AddDest(Tcp80, new DestSpec(Rs1, 80));
        t.CreateWorker(0).Send(t, Tcp(1, Syn), out var verdict, out var reason);
        Assert.Equal(BalanceVerdict.Drop, verdict);
        Assert.Equal(DropReason.TableFull, reason);
    }
}
