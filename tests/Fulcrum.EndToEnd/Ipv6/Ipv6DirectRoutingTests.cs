using System.Globalization;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Ipv6;

/// <summary>A lab with IPv6 on every interface and Fulcrum in lb1 holding the IPv6 VIP; torn down after the class.</summary>
public sealed class Ipv6DirectorFixture : IAsyncLifetime
{
    private LabCluster? _lab;
    private LabDirector? _director;

    public LabCluster Lab => _lab ?? throw new InvalidOperationException("the lab is not up");

    public LabDirector Director => _director ?? throw new InvalidOperationException("the director is not running");

    /// <summary>ipvsadm's notation of the IPv6 VIP with a port.</summary>
    public static string Vip(int port) => $"[{LabAddresses.VipV6}]:{port.ToString(CultureInfo.InvariantCulture)}";

    public static string VipUrl { get; } = $"http://[{LabAddresses.VipV6}]/";

    public Task InitializeAsync()
    {
        _lab = LabRegistry.Up(ipv6: true);
        _director = LabDirector.Start(Lab, "lb1");
        ResetToSeed();
        Lab.AddVipV6("lb1");
        return Task.CompletedTask;
    }

    /// <summary>The seed's service on the IPv6 VIP: rr over rs1..rs3 by their IPv6 addresses, DR.</summary>
    public void ResetToSeed()
    {
        Director.Adm("-C").EnsureSuccess("ipvsadm -C");
        Director.Adm("-A", "-t", Vip(80), "-s", "rr").EnsureSuccess("ipvsadm -A");
        foreach (var rs in LabAddresses.RealServersV6)
        {
            Director.Adm("-a", "-t", Vip(80), "-r", $"[{rs}]:80", "-g").EnsureSuccess("ipvsadm -a");
        }
    }

    public Task DisposeAsync()
    {
        if (_lab is not null)
        {
            LabRegistry.Down(_lab);
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// LVS-DR over IPv6, end to end: curl -6 and a UDP client in the client namespace, the router forwarding
/// IPv6, Fulcrum in lb1 resolving the real servers' MACs with NDP, nginx on rs1..rs3 with the IPv6 VIP on lo.
/// </summary>
public sealed class Ipv6DirectRoutingTests : IClassFixture<Ipv6DirectorFixture>
{
    private static readonly string[] Names = ["rs1", "rs2", "rs3"];
    private readonly Ipv6DirectorFixture _f;

    public Ipv6DirectRoutingTests(Ipv6DirectorFixture fixture)
    {
        _f = fixture;
        _f.ResetToSeed();
    }

    [Fact]
    public void RoundRobin_CurlOverIpv6_AnswersFromAllThreeRealServers()
    {
        var counts = Names.ToDictionary(n => n, _ => 0);
        for (int i = 0; i < 9; i++)
        {
            var body = Curl6().Trim();
            Assert.Contains(body, Names);
            counts[body]++;
        }

        Assert.All(Names, n => Assert.Equal(3, counts[n]));
        var listing = _f.Director.Adm("-ln").EnsureSuccess("ipvsadm -ln").StdOut;
        Assert.Contains("TCP  [2001:db8:100::100]:80 rr\n", listing, StringComparison.Ordinal);
        Assert.Contains("  -> [2001:db8:100::2]:80", listing, StringComparison.Ordinal);
    }

    [Fact]
    public void Replies_GoStraightFromRealServersToTheRouter_NeverThroughTheDirector()
    {
        using var tcpdump = _f.Lab.StartProcess("router", "tcpdump", "-i", "eth1", "-n", "-e", "-l", "ip6 and tcp and src port 80");
        Wait.For(() => tcpdump.ReadLog().Contains("listening on", StringComparison.Ordinal), "tcpdump to start");
        for (int i = 0; i < 9; i++)
        {
            Curl6();
        }

        Thread.Sleep(300);
        tcpdump.Signal("INT");
        tcpdump.WaitForExit(TimeSpan.FromSeconds(5));

        var frames = tcpdump.ReadLog().Split('\n').Where(l => l.Contains("ethertype IPv6", StringComparison.Ordinal)).ToArray();
        Assert.True(frames.Length >= 9 * 3, $"expected the replies of 9 requests at the router, saw {frames.Length} frames");
        var realServerMacs = LabCluster.RealServerHosts.Select(h => LabAddresses.MacOf(h)).ToHashSet();
        var senders = frames.Select(f => f.Split(' ')[1]).ToHashSet();
        Assert.Subset(realServerMacs, senders);
        Assert.DoesNotContain(LabAddresses.MacOf("lb1"), senders);

        // The director saw requests only (DR: OutPkts stay 0).
        var stats = _f.Director.Adm("-ln", "--stats", "--exact").EnsureSuccess("ipvsadm --stats").StdOut;
        var service = stats.Split('\n').Single(l => l.StartsWith("TCP  [2001:db8:100::100]:80", StringComparison.Ordinal));
        var columns = service.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(long.Parse(columns[3], CultureInfo.InvariantCulture) > 0, service);   // InPkts
        Assert.Equal("0", columns[4]);                                                   // OutPkts
    }

    [Fact]
    public void Persistence_OneClientStaysOnOneRealServer_AndItsSlash64Too()
    {
        // -M 64: ipvsadm takes an IPv6 persistence mask as a prefix length; a second client address in
        // the client's /64 shares the first one's template.
        _f.Director.Adm("-E", "-t", Ipv6DirectorFixture.Vip(80), "-s", "rr", "-p", "30", "-M", "64").EnsureSuccess("ipvsadm -E -p -M 64");
        const string Second = "2001:db8:113::11";
        _f.Lab.Exec("client", "ip", "addr", "add", Second + "/64", "dev", "eth0", "nodad").EnsureSuccess("second client address");
        try
        {
            var first = Curl6().Trim();
            Assert.Contains(first, Names);
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal(first, Curl6().Trim());
                Assert.Equal(first, Curl6("--interface", Second).Trim());
            }

            var listing = _f.Director.Adm("-ln").EnsureSuccess("ipvsadm -ln").StdOut;
            Assert.Contains("TCP  [2001:db8:100::100]:80 rr persistent 30 mask 64\n", listing, StringComparison.Ordinal);

            // The template is listed as ipvsadm -Lnc shows IPv6: [client/64 network]:0.
            var conns = _f.Director.Adm("-Lnc").EnsureSuccess("ipvsadm -Lnc").StdOut;
            Assert.Contains("TCP ", conns, StringComparison.Ordinal);
            Assert.Contains("[2001:db8:113::]:0", conns, StringComparison.Ordinal);
            Assert.Contains("[2001:db8:100::100]:80", conns, StringComparison.Ordinal);
        }
        finally
        {
            _f.Lab.Exec("client", "ip", "addr", "del", Second + "/64", "dev", "eth0");
        }
    }

    [Fact]
    public void WithoutPersistence_TwoClientsOfOneSlash64_Spread()
    {
        const string Second = "2001:db8:113::12";
        _f.Lab.Exec("client", "ip", "addr", "add", Second + "/64", "dev", "eth0", "nodad").EnsureSuccess("second client address");
        try
        {
            var bodies = new HashSet<string>();
            for (int i = 0; i < 3; i++)
            {
                bodies.Add(Curl6().Trim());
                bodies.Add(Curl6("--interface", Second).Trim());
            }

            Assert.Equal(Names.Length, bodies.Count);
        }
        finally
        {
            _f.Lab.Exec("client", "ip", "addr", "del", Second + "/64", "dev", "eth0");
        }
    }

    [Fact]
    public void UdpService_Ipv6_EchoesFromEveryRealServer()
    {
        var vip = Ipv6DirectorFixture.Vip(LabCluster.UdpEchoPort);
        _f.Director.Adm("-A", "-u", vip, "-s", "rr").EnsureSuccess("ipvsadm -A -u");
        foreach (var rs in LabAddresses.RealServersV6)
        {
            _f.Director.Adm("-a", "-u", vip, "-r", $"[{rs}]:{LabCluster.UdpEchoPort}", "-g").EnsureSuccess("ipvsadm -a -u");
        }

        // A one-shot UDP request is not retransmitted as TCP would be: wait for NDP first.
        Wait.ForIpv6Neighbours(_f.Lab, "lb1");

        var seen = new HashSet<string>();
        for (int i = 0; i < 6; i++)
        {
            var reply = ClientTools.UdpRequest(_f.Lab, LabAddresses.VipV6.ToString(), LabCluster.UdpEchoPort, "ping-" + i);
            var lines = reply.Split('\n');
            Assert.Contains(lines[0], Names);
            Assert.Equal("ping-" + i, lines[1]);
            seen.Add(lines[0]);
        }

        Assert.Equal(Names.Length, seen.Count);
    }

    [Fact]
    public void KernelDropRules_ClaimTheIpv6Service()
    {
        var table = _f.Lab.Exec("lb1", "nft", "list", "table", "netdev", ServiceClaimRules.TableName("eth0")).EnsureSuccess("nft list").StdOut;
        Assert.Contains("ip6 daddr . meta l4proto . th dport @services6 drop", table, StringComparison.Ordinal);
        Assert.Contains("2001:db8:100::100 . tcp . 80", table, StringComparison.Ordinal);
    }

    [Fact]
    public void RealServers_VipOnLo_AreNotAnsweredByNdp_OnlyTheDirector()
    {
        // With the VIP on lb1, the router's neighbour entry for it is lb1's MAC.
        _f.Lab.Exec("router", "ip", "-6", "neigh", "flush", "dev", "eth1").EnsureSuccess("neigh flush");
        _f.Lab.Exec("router", "ping", "-6", "-c", "1", "-W", "2", LabAddresses.VipV6.ToString()).EnsureSuccess("ping the IPv6 VIP");
        var entry = _f.Lab.Exec("router", "ip", "-6", "neigh", "show", LabAddresses.VipV6.ToString(), "dev", "eth1").StdOut;
        Assert.Contains("lladdr " + LabAddresses.MacOf("lb1"), entry, StringComparison.Ordinal);

        // Without it, nobody answers the solicitation: ndisc only answers for addresses on the receiving
        // interface (ndisc_recv_ns looks the target up with the device), so the VIP on the real servers' lo stays silent.
        _f.Lab.RemoveVipV6("lb1");
        try
        {
            _f.Lab.Exec("router", "ip", "-6", "neigh", "flush", "dev", "eth1").EnsureSuccess("neigh flush");
            var ping = _f.Lab.Exec("router", "ping", "-6", "-c", "1", "-W", "3", LabAddresses.VipV6.ToString());
            Assert.False(ping.Succeeded, ping.StdOut);
            var after = _f.Lab.Exec("router", "ip", "-6", "neigh", "show", LabAddresses.VipV6.ToString(), "dev", "eth1").StdOut;
            Assert.DoesNotContain("lladdr", after, StringComparison.Ordinal);
        }
        finally
        {
            _f.Lab.AddVipV6("lb1");
        }
    }

    [Fact]
    public void SaveRestore_Ipv6Services_RoundTripOnTheDaemon_AndStillServe()
    {
        _f.Director.Adm("-E", "-t", Ipv6DirectorFixture.Vip(80), "-s", "wlc", "-p", "120", "-M", "56").EnsureSuccess("ipvsadm -E");
        _f.Director.Adm("-A", "-u", Ipv6DirectorFixture.Vip(LabCluster.UdpEchoPort), "-s", "sh", "-o").EnsureSuccess("ipvsadm -A -u");
        _f.Director.Adm("-a", "-u", Ipv6DirectorFixture.Vip(LabCluster.UdpEchoPort), "-r", LabAddresses.Rs2V6.ToString(), "-g", "-w", "3").EnsureSuccess("ipvsadm -a -u");
        var saved = _f.Director.Adm("-Sn").EnsureSuccess("ipvsadm -Sn").StdOut;
        Assert.Contains("-A -t [2001:db8:100::100]:80 -s wlc -p 120 -M 56\n", saved, StringComparison.Ordinal);
        Assert.Contains("-a -t [2001:db8:100::100]:80 -r [2001:db8:100::2]:80 -g -w 1\n", saved, StringComparison.Ordinal);

        _f.Director.Adm("-C").EnsureSuccess("ipvsadm -C");
        _f.Director.AdmWithInput(saved, "-R").EnsureSuccess("ipvsadm -R");

        Assert.Equal(saved, _f.Director.Adm("-Sn").EnsureSuccess("ipvsadm -Sn").StdOut);
        Assert.Contains(Curl6().Trim(), Names);
    }

    private string Curl6(params string[] extra) =>
        ClientTools.Curl(_f.Lab, Ipv6DirectorFixture.VipUrl, "client", ["-6", "-g", .. extra]).EnsureSuccess("curl -6").StdOut;
}
