using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Linux;

namespace Fulcrum.Tests.Linux;

public class ServiceClaimRulesTests
{
    [Fact]
    public void BuildScript_TwoServices_ReplacesTableAtomicallyWithSortedSet()
    {
        var vip = IPAddress.Parse("198.51.100.100");
        string script = ServiceClaimRules.BuildScript("eth0", [(IpProtocol.Udp, vip, (ushort)53), (IpProtocol.Tcp, vip, (ushort)80)]);

        Assert.Equal(
            "add table netdev fulcrum_eth0\n" +
            "delete table netdev fulcrum_eth0\n" +
            "table netdev fulcrum_eth0 {\n" +
            "\tset services4 {\n" +
            "\t\ttype ipv4_addr . inet_proto . inet_service\n" +
            "\t\telements = { 198.51.100.100 . tcp . 80, 198.51.100.100 . udp . 53 }\n" +
            "\t}\n" +
            "\tchain ingress {\n" +
            "\t\ttype filter hook ingress device \"eth0\" priority -500; policy accept;\n" +
            "\t\tip daddr . meta l4proto . th dport @services4 drop\n" +
            "\t}\n" +
            "}\n",
            script);
    }

    [Fact]
    public void BuildScript_NoServices_HasEmptySet()
    {
        string script = ServiceClaimRules.BuildScript("eth0", []);

        Assert.DoesNotContain("elements", script, StringComparison.Ordinal);
        Assert.Contains("@services4 drop", script, StringComparison.Ordinal);
    }

    [Fact]
    public void BuildScript_DuplicateService_ListedOnce()
    {
        var vip = IPAddress.Parse("198.51.100.100");
        string script = ServiceClaimRules.BuildScript("eth0", [(IpProtocol.Tcp, vip, (ushort)80), (IpProtocol.Tcp, vip, (ushort)80)]);

        Assert.Contains("elements = { 198.51.100.100 . tcp . 80 }", script, StringComparison.Ordinal);
    }

    [Fact]
    public void BuildScript_Ipv6Vip_GetsItsOwnSetAndIp6Rule()
    {
        var vip4 = IPAddress.Parse("198.51.100.100");
        var vip6 = IPAddress.Parse("2001:db8:100::100");
        string script = ServiceClaimRules.BuildScript("eth0", [(IpProtocol.Udp, vip6, (ushort)5353), (IpProtocol.Tcp, vip6, (ushort)80), (IpProtocol.Tcp, vip4, (ushort)80)]);

        Assert.Equal(
            "add table netdev fulcrum_eth0\n" +
            "delete table netdev fulcrum_eth0\n" +
            "table netdev fulcrum_eth0 {\n" +
            "\tset services4 {\n" +
            "\t\ttype ipv4_addr . inet_proto . inet_service\n" +
            "\t\telements = { 198.51.100.100 . tcp . 80 }\n" +
            "\t}\n" +
            "\tset services6 {\n" +
            "\t\ttype ipv6_addr . inet_proto . inet_service\n" +
            "\t\telements = { 2001:db8:100::100 . tcp . 80, 2001:db8:100::100 . udp . 5353 }\n" +
            "\t}\n" +
            "\tchain ingress {\n" +
            "\t\ttype filter hook ingress device \"eth0\" priority -500; policy accept;\n" +
            "\t\tip daddr . meta l4proto . th dport @services4 drop\n" +
            "\t\tip6 daddr . meta l4proto . th dport @services6 drop\n" +
            "\t}\n" +
            "}\n",
            script);
    }

    [Fact]
    public void BuildScript_Ipv4Only_HasNoIpv6SetOrRule()
    {
        string script = ServiceClaimRules.BuildScript("eth0", [(IpProtocol.Tcp, IPAddress.Parse("198.51.100.100"), (ushort)80)]);

        Assert.DoesNotContain("services6", script, StringComparison.Ordinal);
        Assert.DoesNotContain("ip6", script, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("eth0;x")]
    [InlineData("a b")]
    [InlineData("very-long-name-x")]
    [InlineData("")]
    public void TableName_UnsafeInterfaceName_Throws(string ifName)
    {
        Assert.ThrowsAny<ArgumentException>(() => ServiceClaimRules.TableName(ifName));
    }

    [Fact]
    public void TableName_Interface_PrefixesFulcrum()
    {
        Assert.Equal("fulcrum_fx-1.2", ServiceClaimRules.TableName("fx-1.2"));
    }
}
