using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Packets;
using Microsoft.Extensions.Time.Testing;
using static Fulcrum.Tests.Balancing.Lab;

namespace Fulcrum.Tests.Balancing;

/// <summary>Fwmark services (ipvsadm -f) fed by the mark rules: lookup order, rule matching, fwmark persistence.</summary>
public class FwMarkTests
{
    private static readonly ServiceKey Fwm1 = new(IpProtocol.Tcp, IPAddress.Any, 0, 1);
    private static readonly ServiceKey Fwm2 = new(IpProtocol.Tcp, IPAddress.Any, 0, 2);
    private static readonly IPAddress Neighbour = IPAddress.Parse("203.0.113.20");

    private readonly FakeTimeProvider _time = new();
    private ushort _port = 30000;

    private static IReadOnlyList<FwMarkRule> Rules(string text)
    {
        var errors = new List<FwMarkRuleError>();
        var rules = FwMarkRules.Parse(text, "rules", errors);
        Assert.Empty(errors);
        return rules;
    }

    /// <summary>rr over rs1, rs2 behind fwmark 1 (-p timeout when given), and the rules.</summary>
    private IpvsTable Table(string rules, uint timeout = 0, ServiceKey? key = null)
    {
        var k = key ?? Fwm1;
        var t = new IpvsTable(_time, 1, 1024);
        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(k, "rr", PersistenceTimeout: timeout)));
        Assert.Equal(IpvsErrno.Ok, t.AddDest(k, new DestSpec(Rs1, 0)));
        Assert.Equal(IpvsErrno.Ok, t.AddDest(k, new DestSpec(Rs2, 0)));
        t.SetMarkRules(Rules(rules));
        return t;
    }

    private RealServer? Syn(IpvsTable t, Balancer w, ushort vport, out BalanceVerdict verdict, IPAddress? client = null) =>
        w.Send(t, Tcp(_port++, Lab.Syn, client: client, vport: vport), out verdict, out _);

    [Fact]
    public void Process_PortsOfOneRule_GoToTheFwmarkService()
    {
        var t = Table("ip daddr 198.51.100.100 tcp dport { 80, 8080 } meta mark set 1");
        var w = t.CreateWorker(0);
        Assert.NotNull(Syn(t, w, 80, out var v80));
        Assert.Equal(BalanceVerdict.Forward, v80);
        Assert.NotNull(Syn(t, w, 8080, out var v8080));
        Assert.Equal(BalanceVerdict.Forward, v8080);
        Assert.Equal(2ul, t.GetService(Fwm1)!.Stats.Conns);

        Assert.Null(Syn(t, w, 443, out var v443));
        Assert.Equal(BalanceVerdict.NotService, v443);
        // UDP to a marked port is not TCP: not marked.
        var udp = Udp(40000, vport: 80);
        Assert.Equal(BalanceVerdict.NotService, w.Process(ref udp, t.NowMs, out _, out _));
    }

    [Fact]
    public void Process_Persistent_OneClientSticksAcrossPortsAndProtocols()
    {
        var t = Table("ip daddr 198.51.100.100 meta l4proto { tcp, udp } th dport { 80, 8080, 53 } meta mark set 1", timeout: 30);
        var w = t.CreateWorker(0);
        var first = Syn(t, w, 80, out _)!;
        for (int i = 0; i < 3; i++)
        {
            Assert.Same(first, Syn(t, w, 8080, out _));
            Assert.Same(first, Syn(t, w, 80, out _));
        }

        var dns = Udp(_port++, vport: 53);
        Assert.Equal(BalanceVerdict.Forward, w.Process(ref dns, t.NowMs, out var udpDest, out _));
        Assert.Same(first, udpDest);

        // Another client gets its own template: rr moves on.
        Assert.NotSame(first, Syn(t, w, 8080, out _, Neighbour));

        // ip_vs_sched_persist's fwmark template: <IPPROTO_IP, client, 0, the mark as the address, 0>.
        var template = Assert.Single(t.GetConnections(), c => c.ClientPort == 0 && c.Client.Equals(Client));
        Assert.Equal((IpProtocol)0, template.Protocol);
        Assert.Equal(IPAddress.Parse("0.0.0.1"), template.VirtualAddress);
        Assert.Equal((ushort)0, template.VirtualPort);
        Assert.Equal(first.Address, template.Dest);
        Assert.Equal(2, t.GetService(Fwm1)!.Dests.Sum(d => (int)d.PersistentConns));
    }

    [Fact]
    public void Process_NotPersistent_EachConnectionScheduled()
    {
        var t = Table("ip daddr 198.51.100.100 tcp dport 80 meta mark set 1");
        var w = t.CreateWorker(0);
        var a = Syn(t, w, 80, out _);
        var b = Syn(t, w, 80, out _);
        Assert.NotSame(a, b);
        Assert.DoesNotContain(t.GetConnections(), c => c.ClientPort == 0);
    }

    [Fact]
    public void Process_MarkedPacket_FwmarkServiceBeforeTheAddressService()
    {
        // ip_vs_service_find: the fwmark table is searched first.
        var t = Table("ip daddr 198.51.100.100 tcp dport 80 meta mark set 1");
        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(Tcp80, "rr")));
        Assert.Equal(IpvsErrno.Ok, t.AddDest(Tcp80, new DestSpec(Rs3, 80)));
        var w = t.CreateWorker(0);
        var dest = Syn(t, w, 80, out _)!;
        Assert.NotEqual(Rs3, dest.Address);
        Assert.Equal(Fwm1, dest.Service.Key);
    }

    [Fact]
    public void Process_MarkWithoutService_FallsBackToTheAddressService()
    {
        var t = Table("ip daddr 198.51.100.100 tcp dport 80 meta mark set 7");
        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(Tcp80, "rr")));
        Assert.Equal(IpvsErrno.Ok, t.AddDest(Tcp80, new DestSpec(Rs3, 80)));
        var w = t.CreateWorker(0);
        Assert.Equal(Rs3, Syn(t, w, 80, out _)!.Address);
        Assert.Empty(t.Snapshot.ServedMarkRules);
    }

    [Fact]
    public void FindMarked_LastMatchingRuleDecides()
    {
        // As nftables' and iptables' MARK: every rule runs, the last mark set stays.
        var t = Table("""
            ip daddr 198.51.100.0/24 tcp dport 1000-2000 meta mark set 1
            ip daddr 198.51.100.100 tcp dport 1500 meta mark set 2
            """);
        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(Fwm2, "rr")));
        var s = t.Snapshot;
        uint vip = U32(Vip);
        Assert.Equal(1u, s.FindMarked(6, vip, 1000)!.Key.FwMark);
        Assert.Equal(1u, s.FindMarked(6, U32(IPAddress.Parse("198.51.100.7")), 2000)!.Key.FwMark);
        Assert.Equal(2u, s.FindMarked(6, vip, 1500)!.Key.FwMark);
        Assert.Null(s.FindMarked(6, vip, 999));
        Assert.Null(s.FindMarked(6, vip, 2001));
        Assert.Null(s.FindMarked(6, U32(IPAddress.Parse("198.51.101.1")), 1500));
        Assert.Null(s.FindMarked(17, vip, 1500));
    }

    [Fact]
    public void FindMarked_NoFwmarkService_MatchesNothing()
    {
        var t = new IpvsTable(_time, 1, 64);
        t.SetMarkRules(Rules("ip daddr 198.51.100.100 meta mark set 1"));
        Assert.Null(t.Snapshot.FindMarked(6, U32(Vip), 80));
        Assert.Single(t.Snapshot.MarkRules);

        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(Fwm1, "rr")));
        Assert.NotNull(t.Snapshot.FindMarked(6, U32(Vip), 80));
        Assert.NotNull(t.Snapshot.FindMarked(132, U32(Vip), 9));
        Assert.Single(t.Snapshot.ServedMarkRules);

        Assert.Equal(IpvsErrno.Ok, t.DeleteService(Fwm1));
        Assert.Null(t.Snapshot.FindMarked(6, U32(Vip), 80));
    }

    [Fact]
    public void FindMarked_Ipv6FwmarkService_NotUsedForIpv4Rules()
    {
        var t = new IpvsTable(_time, 1, 64);
        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(new ServiceKey(IpProtocol.Tcp, IPAddress.IPv6Any, 0, 1), "rr", NetmaskPrefix: 128)));
        t.SetMarkRules(Rules("ip daddr 198.51.100.100 meta mark set 1"));
        Assert.Null(t.Snapshot.FindMarked(6, U32(Vip), 80));
    }

    [Fact]
    public void SetMarkRules_RaisesChanged()
    {
        var t = new IpvsTable(_time, 1, 64);
        int changes = 0;
        t.Changed += () => changes++;
        t.SetMarkRules(Rules("ip daddr 198.51.100.100 meta mark set 1"));
        Assert.Equal(1, changes);
    }
}
