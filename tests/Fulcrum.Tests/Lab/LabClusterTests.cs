using Fulcrum.Lab;

namespace Fulcrum.Tests.Lab;

public class LabClusterTests
{
    [Theory]
    [InlineData("fulcrum", true)]
    [InlineData("fl3a9c0d", true)]
    [InlineData("", false)]
    [InlineData("Fl", false)]
    [InlineData("fl-x", false)]
    [InlineData("fl/x", false)]
    [InlineData("abcdefghijklmnopqrstu", false)]
    public void IsValidPrefix_Cases_Match(string prefix, bool valid) =>
        Assert.Equal(valid, LabCluster.IsValidPrefix(prefix));

    [Fact]
    public void Constructor_InvalidPrefix_Throws() =>
        Assert.Throws<ArgumentException>(() => new LabCluster("../etc"));

    [Fact]
    public void NamespaceOf_Hosts_ArePrefixed()
    {
        var lab = new LabCluster("flabc");

        Assert.Equal("flabc-rs1", lab.NamespaceOf("rs1"));
        Assert.Equal("flabc-sw", lab.NamespaceOf(LabCluster.SwitchHost));
        Assert.Throws<ArgumentException>(() => lab.NamespaceOf("rs4"));
        Assert.Equal("/run/fulcrum-lab/flabc", lab.StateDirectory);
    }

    [Fact]
    public void WithRandomPrefix_TwoCalls_DifferAndAreValid()
    {
        var a = LabCluster.WithRandomPrefix();
        var b = LabCluster.WithRandomPrefix();

        Assert.NotEqual(a.Prefix, b.Prefix);
        Assert.StartsWith("fl", a.Prefix, StringComparison.Ordinal);
        Assert.True(LabCluster.IsValidPrefix(a.Prefix));
    }

    [Fact]
    public void ParseRecords_FormattedRecords_RoundTrip()
    {
        var text = "123 456 rs1 nginx /run/fulcrum-lab/x/logs/rs1 nginx.log\ngarbage\n\n77 88 lb1 fulcrum /tmp/l\n";

        var records = LabCluster.ParseRecords(text);

        Assert.Equal(2, records.Count);
        Assert.Equal(123, records[0].Pid);
        Assert.Equal("rs1", records[0].Host);
        Assert.Equal("nginx", records[0].Name);
        Assert.Equal("/run/fulcrum-lab/x/logs/rs1 nginx.log", records[0].LogPath);
        Assert.Equal(text.Split('\n')[0] + "\n", LabCluster.FormatRecord(records[0]));
        Assert.Equal("lb1", records[1].Host);
    }

    [Fact]
    public void TrackedProcess_RecordOfDeadPid_HasExited()
    {
        // PID 1 exists, but never with start time 1 (it started at boot, before any other).
        var records = LabCluster.ParseRecords("1 999999999999 rs1 nginx /tmp/x\n");

        Assert.True(records[0].HasExited);
    }

    [Fact]
    public void NginxConfig_Ipv6_AlsoListensOnIpv6Any_IPv4OnlyDoesNot()
    {
        var v6 = LabCluster.NginxConfig("rs1", "/run/fulcrum-lab/x/rs1", ipv6: true);
        var v4 = LabCluster.NginxConfig("rs1", "/run/fulcrum-lab/x/rs1");

        Assert.Contains("listen 80 default_server backlog=4096;\n", v6, StringComparison.Ordinal);
        Assert.Contains("listen [::]:80 default_server ipv6only=on backlog=4096;\n", v6, StringComparison.Ordinal);
        Assert.DoesNotContain("[::]", v4, StringComparison.Ordinal);
    }

    [Fact]
    public void LabAddresses_Ipv6_MirrorTheIpv4HostNumbers()
    {
        Assert.Equal("2001:db8:100::2", LabAddresses.OfV6("rs1").ToString());
        Assert.Equal("2001:db8:113::10", LabAddresses.OfV6("client").ToString());
        Assert.Equal(3, LabAddresses.RealServersV6.Count);
        Assert.Throws<ArgumentException>(() => LabAddresses.OfV6("sw"));
    }

    [Fact]
    public void NginxConfig_Rendered_AnswersNameWithKeepAliveAndPrivatePaths()
    {
        var conf = LabCluster.NginxConfig("rs2", "/run/fulcrum-lab/x/rs2");

        Assert.Contains("return 200 \"rs2\\n\";", conf, StringComparison.Ordinal);
        Assert.Contains("keepalive_requests 1000000;", conf, StringComparison.Ordinal);
        Assert.Contains("master_process off;", conf, StringComparison.Ordinal);
        Assert.Contains("pid /run/fulcrum-lab/x/rs2/nginx.pid;", conf, StringComparison.Ordinal);
        Assert.DoesNotContain("/var/", conf, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("client", "eth0", "02:00:cb:00:71:0a")]
    [InlineData("router", "eth0", "02:00:cb:00:71:01")]
    [InlineData("router", "eth1", "02:00:c6:33:64:fe")]
    [InlineData("lb1", "eth0", "02:00:c6:33:64:0b")]
    [InlineData("rs3", "eth0", "02:00:c6:33:64:04")]
    public void MacOf_Hosts_EncodeTheirAddress(string host, string device, string mac) =>
        Assert.Equal(mac, LabAddresses.MacOf(host, device));

    [Fact]
    public void Addresses_MatchDesignTable()
    {
        Assert.Equal("203.0.113.10", LabAddresses.Client.ToString());
        Assert.Equal("198.51.100.254", LabAddresses.RouterServerSide.ToString());
        Assert.Equal(["198.51.100.2", "198.51.100.3", "198.51.100.4"], LabAddresses.RealServers.Select(a => a.ToString()));
        Assert.Equal("198.51.100.100", LabAddresses.Vip.ToString());
        Assert.Equal("2001:db8:100::100", LabAddresses.VipV6.ToString());
    }
}
