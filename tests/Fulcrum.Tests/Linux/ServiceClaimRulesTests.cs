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
    public void BuildScript_MarkRules_IntervalSetOfPrefixProtocolPortRange()
    {
        var vip = IPAddress.Parse("198.51.100.100");
        var errors = new List<FwMarkRuleError>();
        var rules = FwMarkRules.Parse(
            "ip daddr 198.51.100.100 tcp dport { 80, 8080 } meta mark set 1\n" +
            "ip daddr 198.51.100.0/24 meta l4proto { udp, sctp } th dport 1000-2000 meta mark set 2\n", "f", errors);
        Assert.Empty(errors);
        string script = ServiceClaimRules.BuildScript("eth0", [(IpProtocol.Tcp, vip, (ushort)443)], rules);

        Assert.Contains(
            "\tset marked4 {\n" +
            "\t\ttype ipv4_addr . inet_proto . inet_service\n" +
            "\t\tflags interval\n" +
            "\t\telements = { 198.51.100.0/24 . sctp . 1000-2000, 198.51.100.0/24 . udp . 1000-2000, " +
            "198.51.100.100/32 . tcp . 80, 198.51.100.100/32 . tcp . 8080 }\n" +
            "\t}\n", script, StringComparison.Ordinal);
        Assert.Contains("\t\tip daddr . meta l4proto . th dport @services4 drop\n\t\tip daddr . meta l4proto . th dport @marked4 drop\n", script, StringComparison.Ordinal);
        Assert.Contains("elements = { 198.51.100.100 . tcp . 443 }", script, StringComparison.Ordinal);
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
    public void BuildScript_Ipv6Vip_NotSupportedYet()
    {
        Assert.Throws<NotSupportedException>(() => ServiceClaimRules.BuildScript("eth0", [(IpProtocol.Tcp, IPAddress.Parse("2001:db8:100::100"), (ushort)80)]));
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
