using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;

namespace Fulcrum.EndToEnd.Lab;

public sealed class LabClusterTests : IClassFixture<LabFixture>
{
    private readonly LabCluster _lab;

    public LabClusterTests(LabFixture fixture) => _lab = fixture.Lab;

    [Fact]
    public void Up_EveryHost_HasItsNamespaceAndRealServersRun()
    {
        foreach (var host in LabCluster.Hosts)
        {
            Assert.True(File.Exists("/run/netns/" + _lab.NamespaceOf(host)), $"no namespace for {host}");
            Assert.Equal(0, _lab.Exec(host, "true").ExitCode);
        }

        var running = _lab.TrackedProcesses().Where(p => !p.HasExited).Select(p => p.Host + "/" + p.Name).Order().ToArray();
        Assert.Equal(["rs1/nginx", "rs1/perl", "rs2/nginx", "rs2/perl", "rs3/nginx", "rs3/perl"], running);
    }

    [Theory]
    [InlineData("198.51.100.2", "rs1")]
    [InlineData("198.51.100.3", "rs2")]
    [InlineData("198.51.100.4", "rs3")]
    public void Client_CurlRealServerDirectly_AnswersItsName(string address, string name) =>
        Assert.Equal(name + "\n", ClientTools.CurlBody(_lab, $"http://{address}/"));

    [Fact]
    public void Client_UdpEchoOnRealServer_AnswersNameAndPayload() =>
        Assert.Equal("rs2\nping 42", ClientTools.UdpRequest(_lab, "198.51.100.3", LabCluster.UdpEchoPort, "ping 42"));

    [Fact]
    public void Router_ClientToServerSide_Forwards()
    {
        Assert.Equal("1", _lab.Exec("router", "sysctl", "-n", "net.ipv4.ip_forward").StdOut.Trim());
        Assert.Equal("0", _lab.Exec("lb1", "sysctl", "-n", "net.ipv4.ip_forward").StdOut.Trim());

        // The reply to the client can only come back through the router (rs1's default gateway).
        var ping = _lab.Exec("client", "ping", "-c", "1", "-W", "2", "198.51.100.2");
        Assert.True(ping.Succeeded, ping.StdOut + ping.StdErr);
        var route = _lab.Exec("rs1", "ip", "-4", "route", "show", "default").StdOut;
        Assert.Contains("via 198.51.100.254 dev eth0", route, StringComparison.Ordinal);
    }

    [Fact]
    public void RealServers_AreDirectRoutingReady()
    {
        foreach (var rs in LabCluster.RealServerHosts)
        {
            var values = _lab.Exec(rs, "sysctl", "-n", "net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce",
                "net.ipv4.conf.eth0.arp_ignore", "net.ipv4.conf.eth0.arp_announce").StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["1", "2", "1", "2"], values);
            Assert.Contains("inet 198.51.100.100/32", _lab.Exec(rs, "ip", "-4", "addr", "show", "dev", "lo").StdOut, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Vip_ArpFromRouter_OnlyTheHostHoldingItAnswers()
    {
        // Three real servers hold the VIP on lo: none may answer.
        Assert.Empty(ClientTools.ArpResponders(_lab, "198.51.100.100"));

        // Positive control: the same probe sees the director once it holds the VIP, and only it.
        _lab.AddVip("lb1");
        try
        {
            var macs = ClientTools.ArpResponders(_lab, "198.51.100.100", count: 3);
            Assert.Equal(3, macs.Count);
            Assert.All(macs, m => Assert.Equal(LabAddresses.MacOf("lb1"), m));
        }
        finally
        {
            _lab.RemoveVip("lb1");
        }
    }

    [Fact]
    public void Interfaces_HaveTheFixedMacs()
    {
        foreach (var (host, dev) in new[] { ("client", "eth0"), ("router", "eth0"), ("router", "eth1"), ("lb1", "eth0"), ("rs3", "eth0") })
        {
            var link = _lab.Exec(host, "ip", "-o", "link", "show", "dev", dev).EnsureSuccess("ip link").StdOut;
            Assert.Contains("link/ether " + LabAddresses.MacOf(host, dev), link, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void RootNamespace_Links_HaveNoLabInterface()
    {
        var links = Fulcrum.RealServerSetup.ExternalCommand.Run("ip", ["-o", "link", "show"]).StdOut;
        foreach (var name in new[] { "br0:", " rs1@", " lb1@", " router@", " eth1@" })
        {
            Assert.DoesNotContain(name, links, StringComparison.Ordinal);
        }
    }
}
