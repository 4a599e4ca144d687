using System.Net;
using Fulcrum.Balancing;

namespace Fulcrum.Tests.Balancing;

/// <summary>The rules file of `fulcrum run --fwmark-rules`: nft's syntax for the matches fwmark services use.</summary>
public class FwMarkRulesTests
{
    private static FwMarkRule One(string line)
    {
        var errors = new List<FwMarkRuleError>();
        var rules = FwMarkRules.Parse(line, "f", errors);
        Assert.Empty(errors);
        return Assert.Single(rules);
    }

    private static FwMarkRuleError Error(string text)
    {
        var errors = new List<FwMarkRuleError>();
        Assert.Empty(FwMarkRules.Parse(text, "f", errors));
        return Assert.Single(errors);
    }

    [Fact]
    public void Parse_PortSet_OneRuleWithBothPorts()
    {
        var r = One("ip daddr 198.51.100.100 tcp dport { 80, 8080 } meta mark set 1");
        Assert.Equal(1u, r.Mark);
        Assert.Equal(IPAddress.Parse("198.51.100.100"), r.Address);
        Assert.Equal(32, r.PrefixLength);
        Assert.Equal([IpProtocol.Tcp], r.Protocols);
        Assert.Equal([new PortRange(80, 80), new PortRange(8080, 8080)], r.Ports);
    }

    [Fact]
    public void Parse_PrefixAndRange_MaskedNetwork()
    {
        var r = One("ip daddr 198.51.100.77/24 udp dport 10000-20000 mark set 0x10");
        Assert.Equal(16u, r.Mark);
        Assert.Equal(IPAddress.Parse("198.51.100.0"), r.Address);
        Assert.Equal(24, r.PrefixLength);
        Assert.Equal([IpProtocol.Udp], r.Protocols);
        Assert.Equal([new PortRange(10000, 20000)], r.Ports);
    }

    [Fact]
    public void Parse_NoProtocolNoPort_EveryPortOfTcpUdpSctp()
    {
        var r = One("ip daddr 198.51.100.100 meta mark set 4");
        Assert.Equal([IpProtocol.Tcp, IpProtocol.Udp, IpProtocol.Sctp], r.Protocols);
        Assert.Equal([PortRange.Any], r.Ports);
    }

    [Fact]
    public void Parse_L4protoSetAndThDport()
    {
        var r = One("ip daddr 198.51.100.100 meta l4proto { tcp, udp } th dport 53 meta mark set 3");
        Assert.Equal([IpProtocol.Tcp, IpProtocol.Udp], r.Protocols);
        Assert.Equal([new PortRange(53, 53)], r.Ports);
    }

    [Theory]
    [InlineData("nft add rule ip mangle prerouting ip daddr 198.51.100.100 tcp dport 443 counter meta mark set 5")]
    [InlineData("add rule mangle PREROUTING ip daddr 198.51.100.100 tcp dport 443 meta mark set 5")]
    [InlineData("insert rule inet fw pre ip daddr 198.51.100.100 tcp dport 443 meta mark set 5 # https")]
    public void Parse_PastedNftCommand_PrefixSkipped(string line)
    {
        var r = One(line);
        Assert.Equal(5u, r.Mark);
        Assert.Equal([new PortRange(443, 443)], r.Ports);
    }

    [Fact]
    public void Parse_CommentsAndBlankLines_Ignored()
    {
        var errors = new List<FwMarkRuleError>();
        var rules = FwMarkRules.Parse("# web\n\n  ip daddr 198.51.100.100 tcp dport 80 meta mark set 1  # http\n\tip daddr 198.51.100.100 tcp dport 443 meta mark set 1\n", "f", errors);
        Assert.Empty(errors);
        Assert.Equal([3, 4], rules.Select(r => r.Line));
    }

    [Theory]
    [InlineData("ip daddr 198.51.100.100 tcp dport 80", 35, "meta mark set")]
    [InlineData("tcp dport 80 meta mark set 1", 1, "ip daddr")]
    [InlineData("ip daddr 198.51.100.100 tcp dport 80 meta mark set 0", 52, "not a mark")]
    [InlineData("ip daddr 2001:db8::1 meta mark set 1", 10, "IPv4")]
    [InlineData("ip daddr 198.51.100.0/33 meta mark set 1", 23, "prefix length")]
    [InlineData("ip daddr 198.51.100.100 tcp dport 90-80 meta mark set 1", 35, "ends before it starts")]
    [InlineData("ip daddr 198.51.100.100 tcp dport 70000 meta mark set 1", 35, "not a port")]
    [InlineData("ip saddr 203.0.113.0/24 meta mark set 1", 1, "destination")]
    [InlineData("ip daddr 198.51.100.100 icmp type echo-request meta mark set 1", 25, "unexpected 'icmp'")]
    [InlineData("ip daddr 198.51.100.100 th dport 80 meta mark set 1", 25, "meta l4proto")]
    [InlineData("ip daddr 198.51.100.100 meta l4proto icmp meta mark set 1", 38, "unknown protocol")]
    [InlineData("ip daddr 198.51.100.100 tcp dport { 80 8080 } meta mark set 1", 40, "',' or '}'")]
    public void Parse_Invalid_ErrorWithColumn(string line, int column, string message)
    {
        var e = Error(line);
        Assert.Equal(1, e.Line);
        Assert.Equal(column, e.Column);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.StartsWith($"f:1:{column}: error: ", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ErrorOnOneLine_OtherLinesKept()
    {
        var errors = new List<FwMarkRuleError>();
        var rules = FwMarkRules.Parse("ip daddr 198.51.100.100 meta mark set 1\nip daddr nowhere meta mark set 2\n", "f", errors);
        Assert.Single(rules);
        Assert.Equal(2, Assert.Single(errors).Line);
    }

    [Theory]
    [InlineData("ip daddr 198.51.100.100 tcp dport { 80, 8080 } meta mark set 1")]
    [InlineData("ip daddr 198.51.100.0/24 udp dport 1000-2000 meta mark set 2")]
    [InlineData("ip daddr 198.51.100.100 meta l4proto { tcp, udp } th dport 53 meta mark set 3")]
    [InlineData("ip daddr 198.51.100.100 meta l4proto { tcp, udp, sctp } meta mark set 4")]
    public void ToString_ParsesBackToItself(string line) => Assert.Equal(line, One(line).ToString());
}
