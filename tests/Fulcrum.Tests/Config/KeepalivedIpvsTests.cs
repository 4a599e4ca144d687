using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Config;

namespace Fulcrum.Tests.Config;

public class KeepalivedIpvsTests
{
    private static KeepalivedConfiguration Parse(string text)
    {
        var r = KeepalivedConfig.Parse(text, "i.conf");
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        return r.Configuration;
    }

    private static IPAddress Ip(string s) => IPAddress.Parse(s);

    [Theory]
    [InlineData("", ForwardingMethod.Masquerade)]
    [InlineData("lb_kind NAT", ForwardingMethod.Masquerade)]
    [InlineData("lb_kind DR", ForwardingMethod.DirectRoute)]
    [InlineData("lvs_method TUN", ForwardingMethod.Tunnel)]
    public void ToIpvs_LbKind_MapsToForwardingMethod(string kind, ForwardingMethod expected)
    {
        var c = Parse($"virtual_server 198.51.100.100 80 {{\n {kind}\n real_server 198.51.100.2 80 {{\n }}\n}}\n");
        var (_, dests) = Assert.Single(KeepalivedIpvs.ToIpvs(c));
        Assert.Equal(expected, Assert.Single(dests).Method);
    }

    [Fact]
    public void ToIpvs_Service_CarriesSchedulerPersistenceAndFlags()
    {
        var c = Parse("virtual_server 198.51.100.100 53 {\n protocol UDP\n lb_algo sh\n sh-fallback\n ops\n persistence_timeout 600\n persistence_granularity 255.255.255.0\n persistence_engine sip\n real_server 198.51.100.2 53 {\n  weight 9\n  uthreshold 100\n  lthreshold 10\n }\n}\n");
        var (svc, dests) = Assert.Single(KeepalivedIpvs.ToIpvs(c));
        Assert.Equal(new ServiceSpec(new ServiceKey(IpProtocol.Udp, Ip("198.51.100.100"), 53), "sh", SchedulerFlags.Flag1, 600, 24, true, "sip"), svc);
        Assert.Equal(new DestSpec(Ip("198.51.100.2"), 53, ForwardingMethod.Masquerade, 9, 100, 10), Assert.Single(dests));
    }

    [Fact]
    public void ToIpvs_DirectRoute_DestTakesServicePort()
    {
        var c = Parse("virtual_server 198.51.100.100 80 {\n lb_kind DR\n real_server 198.51.100.2 8080 {\n }\n real_server 198.51.100.3 {\n }\n}\n");
        var (_, dests) = Assert.Single(KeepalivedIpvs.ToIpvs(c));
        Assert.Equal([(ushort)80, (ushort)80], dests.Select(d => d.Port));
    }

    [Fact]
    public void ToIpvs_Nat_DestKeepsItsPortOrTakesServicePort()
    {
        var c = Parse("virtual_server 198.51.100.100 80 {\n real_server 198.51.100.2 8080 {\n }\n real_server 198.51.100.3 {\n }\n}\n");
        var (_, dests) = Assert.Single(KeepalivedIpvs.ToIpvs(c));
        Assert.Equal([(ushort)8080, (ushort)80], dests.Select(d => d.Port));
    }

    [Fact]
    public void ToIpvs_FwMark_IsFwMarkServiceOfRealServerFamily()
    {
        var c = Parse("virtual_server fwmark 5 {\n lb_kind DR\n real_server 2001:db8::2 {\n }\n}\n");
        var (svc, dests) = Assert.Single(KeepalivedIpvs.ToIpvs(c));
        Assert.Equal(new ServiceKey(IpProtocol.Tcp, IPAddress.IPv6Any, 0, 5), svc.Key);
        Assert.Equal(128, svc.NetmaskPrefix);
        Assert.Equal(0, Assert.Single(dests).Port);
    }

    [Fact]
    public void ToIpvs_Group_ExpandsRangesMasksAndFwmarks()
    {
        var c = Parse("""
            virtual_server_group G {
                198.51.100.10 80
                198.51.100.20-21 443
                198.51.100.32/31 8080
                fwmark 3
            }
            virtual_server group G {
                lb_kind DR
                real_server 198.51.100.2 {
                }
            }
            """);
        var ipvs = KeepalivedIpvs.ToIpvs(c);
        Assert.Equal(
            [
                new ServiceKey(IpProtocol.Tcp, Ip("198.51.100.10"), 80),
                new ServiceKey(IpProtocol.Tcp, Ip("198.51.100.20"), 443),
                new ServiceKey(IpProtocol.Tcp, Ip("198.51.100.21"), 443),
                new ServiceKey(IpProtocol.Tcp, Ip("198.51.100.32"), 8080),
                new ServiceKey(IpProtocol.Tcp, Ip("198.51.100.33"), 8080),
                new ServiceKey(IpProtocol.Tcp, IPAddress.Any, 0, 3),
            ],
            ipvs.Select(s => s.Service.Key));
        Assert.All(ipvs, s => Assert.Equal(ForwardingMethod.DirectRoute, Assert.Single(s.Dests).Method));
        Assert.Equal(443, ipvs[1].Dests[0].Port);
    }

    [Fact]
    public void ToIpvs_Ipv6GroupRange_LastGroupIsHex()
    {
        var c = Parse("virtual_server_group G6 {\n 2001:db8::a-c 80\n}\nvirtual_server group G6 {\n real_server 2001:db8::2 80 {\n }\n}\n");
        var keys = KeepalivedIpvs.ToIpvs(c).Select(s => s.Service.Key.Address).ToList();
        Assert.Equal([Ip("2001:db8::a"), Ip("2001:db8::b"), Ip("2001:db8::c")], keys);
    }

    [Fact]
    public void ToIpvs_Health_DownRemovedOrInhibitedAndSorryServerWhenAllDown()
    {
        var c = Parse("virtual_server 198.51.100.100 80 {\n sorry_server 198.51.100.250 80\n real_server 198.51.100.2 80 {\n  inhibit_on_failure\n }\n real_server 198.51.100.3 80 {\n }\n}\n");
        var someDown = KeepalivedIpvs.ToIpvs(c, (_, rs) => rs.Address.Equals(Ip("198.51.100.3")));
        Assert.Equal(
            [new DestSpec(Ip("198.51.100.2"), 80, ForwardingMethod.Masquerade, 0), new DestSpec(Ip("198.51.100.3"), 80, ForwardingMethod.Masquerade, 1)],
            someDown[0].Dests);

        var allDown = KeepalivedIpvs.ToIpvs(c, (_, _) => false);
        Assert.Equal(
            [new DestSpec(Ip("198.51.100.2"), 80, ForwardingMethod.Masquerade, 0), new DestSpec(Ip("198.51.100.250"), 80, ForwardingMethod.Masquerade, 1)],
            allDown[0].Dests);
    }

    [Fact]
    public void ToIpvs_Samples_AllMap()
    {
        var c = KeepalivedConfig.Load(KeepalivedSampleTests.Golden("sync-group.conf")).Configuration;
        var ipvs = KeepalivedIpvs.ToIpvs(c);
        Assert.Equal(5, ipvs.Count); // 1 + 3 addresses + 1 fwmark
        Assert.All(ipvs, s => Assert.Equal(2, s.Dests.Count));
        var nat = KeepalivedIpvs.ToIpvs(KeepalivedConfig.Load(KeepalivedSampleTests.Golden("nat-services.conf")).Configuration);
        Assert.Equal(new ServiceKey(IpProtocol.Udp, Ip("203.0.113.53"), 53), nat[1].Service.Key);
        Assert.True(nat[1].Service.OnePacket);
        Assert.Equal(24, nat[0].Service.NetmaskPrefix);
    }
}
