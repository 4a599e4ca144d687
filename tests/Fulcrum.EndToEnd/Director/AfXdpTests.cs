using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Director;

/// <summary>The director on AF_XDP sockets (`--driver afxdp`): the C# tier alone, fed by the fulcrum_xsk XDP program.</summary>
public sealed class AfXdpDirectorFixture : DirectorFixture
{
    protected override string[] ExtraArgs => ["--driver", "afxdp"];
}

/// <summary>
/// `--driver afxdp` end to end: frames of the claimed services reach the workers through AF_XDP (copy mode
/// on veth), leave rewritten for LVS-DR from the same UMEM frame, with local senders' partial checksums
/// completed; replies bypass the director and ipvsadm's counters are exact.
/// </summary>
public sealed class AfXdpTests : IClassFixture<AfXdpDirectorFixture>
{
    private static readonly string[] Names = ["rs1", "rs2", "rs3"];
    private static readonly string UdpVip = LabAddresses.Vip + ":" + LabCluster.UdpEchoPort;
    private readonly AfXdpDirectorFixture _f;

    public AfXdpTests(AfXdpDirectorFixture fixture)
    {
        _f = fixture;
        _f.ResetToSeed();
    }

    [Fact]
    public void Daemon_LogsAfXdpCopyModeAndOneWorkerPerQueue()
    {
        var log = _f.Director.Process.ReadLog();
        // The lab's veths have one RX queue: the two workers asked for become one.
        Assert.Contains("data plane on eth0: AF_XDP copy mode, 1 worker(s), one socket per RX queue", log, StringComparison.Ordinal);
        Assert.DoesNotContain("falling back to AF_PACKET", log, StringComparison.Ordinal);
        Assert.Contains("Data path: AF_XDP copy mode\n", _f.Director.Status().StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void Curl_ThirtyRequests_LandTenOnEachRealServer_RepliesBypassTheDirector()
    {
        using var tcpdump = _f.Lab.StartProcess("router", "tcpdump", "-i", "eth1", "-n", "-e", "-l", "tcp and src port 80");
        Wait.For(() => tcpdump.ReadLog().Contains("listening on", StringComparison.Ordinal), "tcpdump to start");
        var counts = Names.ToDictionary(n => n, _ => 0);
        for (int i = 0; i < 30; i++)
        {
            var body = ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim();
            Assert.Contains(body, Names);
            counts[body]++;
        }

        Thread.Sleep(300);
        tcpdump.Signal("INT");
        tcpdump.WaitForExit(TimeSpan.FromSeconds(5));
        Assert.All(Names, n => Assert.Equal(10, counts[n]));

        var frames = tcpdump.ReadLog().Split('\n').Where(l => l.Contains("ethertype IPv4", StringComparison.Ordinal)).ToArray();
        Assert.True(frames.Length >= 30 * 3, $"expected the replies of 30 requests at the router, saw {frames.Length} frames");
        var senders = frames.Select(f => f.Split(' ')[1]).ToHashSet();
        Assert.Subset(LabAddresses.RealServers.Select(MacOf).ToHashSet(), senders);
        Assert.DoesNotContain(MacOf(LabAddresses.Lb1), senders);

        // The workers completed the local senders' partial TCP checksums (AF_XDP loses CHECKSUM_PARTIAL), else
        // the real servers would have dropped the segments and curl would have timed out above. On the native-XDP
        // wire (CI's `--driver xdp` pass) the client sends complete sums, so there is nothing to complete.
        var status = _f.Director.Status().EnsureSuccess("fulcrum status").StdOut;
        Assert.Contains("Workers: 1\n", status, StringComparison.Ordinal);
        var completed = status.Split('\n').Single(l => l.StartsWith("Checksums completed: ", StringComparison.Ordinal));
        Assert.True(_f.Lab.NativeXdpWire || long.Parse(completed["Checksums completed: ".Length..], NumberStyles.AllowThousands, CultureInfo.InvariantCulture) >= 30, completed);
    }

    [Fact]
    public void Stats_FortyKnownUdpDatagrams_CountExactlyForty()
    {
        _f.Director.Adm("-A", "-u", UdpVip, "-s", "rr").EnsureSuccess("ipvsadm -A -u");
        foreach (var rs in LabAddresses.RealServers)
            _f.Director.Adm("-a", "-u", UdpVip, "-r", $"{rs}:{LabCluster.UdpEchoPort}", "-g").EnsureSuccess("ipvsadm -a -u");

        // Neighbours first (client → router → lb1 → real servers), so no datagram waits in an ARP queue.
        Assert.Contains(ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim(), Names);
        Assert.Contains(ClientTools.UdpRequest(_f.Lab, LabAddresses.Vip.ToString(), LabCluster.UdpEchoPort, "warm").Split('\n')[0], Names);
        long before = UdpInPackets();

        const int N = 40;
        NetworkNamespace.RunIn(_f.Lab.NamespaceOf("client"), () =>
        {
            var vip = new IPEndPoint(LabAddresses.Vip, LabCluster.UdpEchoPort);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            for (int i = 0; i < N; i++)
                socket.SendTo(Encoding.ASCII.GetBytes("afxdp-" + i.ToString(CultureInfo.InvariantCulture)), vip);
        });

        Wait.For(() => UdpInPackets() - before >= N, $"ipvsadm --stats to count {N} more packets");
        Thread.Sleep(300);
        Assert.Equal(N, UdpInPackets() - before);
    }

    private long UdpInPackets()
    {
        var stats = _f.Director.Adm("-ln", "--stats", "--exact").EnsureSuccess("ipvsadm --stats").StdOut;
        var line = stats.Split('\n').Single(l => l.StartsWith("UDP  " + UdpVip, StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3], CultureInfo.InvariantCulture);
    }

    internal static string MacOf(IPAddress address)
    {
        var b = address.GetAddressBytes();
        return NetInterface.FormatMac(0x0200_0000_0000UL | ((ulong)b[0] << 24) | ((ulong)b[1] << 16) | ((ulong)b[2] << 8) | b[3]);
    }
}

/// <summary>
/// `--driver afxdp` when AF_XDP cannot bind: another AF_XDP socket holds lb1's only RX queue, so the
/// director's bind gets EBUSY (after its retries), logs the fallback and forwards on AF_PACKET.
/// </summary>
public sealed class AfXdpFallbackTests : IAsyncLifetime
{
    private readonly LabFixture _lab = new();

    public Task InitializeAsync() => _lab.InitializeAsync();

    public Task DisposeAsync() => _lab.DisposeAsync();

    [Fact]
    public void Run_QueueHeldByAnotherSocket_FallsBackToAfPacketAndForwards()
    {
        var lab = _lab.Lab;
        using var holder = NetworkNamespace.RunIn(lab.NamespaceOf("lb1"), () => new XdpSocket(NetInterface.GetIndex("eth0"), 0));
        var director = LabDirector.Start(lab, "lb1", "--driver", "afxdp");
        director.ApplySeed();

        var log = director.Process.ReadLog();
        Assert.Contains("AF_XDP on eth0 unavailable, falling back to AF_PACKET: bind(AF_XDP, ifindex", log, StringComparison.Ordinal);
        Assert.Contains("EBUSY", log, StringComparison.Ordinal);
        Assert.Contains("data plane on eth0: AF_PACKET TPACKET_V3", log, StringComparison.Ordinal);
        var seen = new HashSet<string>();
        for (int i = 0; i < 6; i++)
            seen.Add(ClientTools.CurlBody(lab, $"http://{LabAddresses.Vip}/").Trim());
        Assert.Equal(["rs1", "rs2", "rs3"], seen.Order());
    }
}

/// <summary>`--driver afxdp` over IPv6: fulcrum_xsk claims the IPv6 VIP's service by its 16-byte address.</summary>
public sealed class AfXdpIpv6Tests : IAsyncLifetime
{
    private LabCluster? _lab;

    public Task InitializeAsync()
    {
        _lab = LabRegistry.Up(ipv6: true);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        if (_lab is not null)
            LabRegistry.Down(_lab);
        return Task.CompletedTask;
    }

    [Fact]
    public void Curl6_NineRequests_ThreeOnEachRealServer()
    {
        var lab = _lab!;
        var director = LabDirector.Start(lab, "lb1", "--driver", "afxdp");
        string vip = $"[{LabAddresses.VipV6}]:80";
        director.Adm("-A", "-t", vip, "-s", "rr").EnsureSuccess("ipvsadm -A");
        foreach (var rs in LabAddresses.RealServersV6)
            director.Adm("-a", "-t", vip, "-r", $"[{rs}]:80", "-g").EnsureSuccess("ipvsadm -a");
        lab.AddVipV6("lb1");
        Assert.Contains("AF_XDP copy mode", director.Process.ReadLog(), StringComparison.Ordinal);
        // A fresh lab: the first SYNs would be dropped while NDP waits for DAD (curl failed once in CI).
        Wait.ForIpv6Neighbours(lab, "lb1");

        var counts = new Dictionary<string, int>();
        for (int i = 0; i < 9; i++)
        {
            var body = ClientTools.Curl(lab, $"http://[{LabAddresses.VipV6}]/", "client", ["-6", "-g"]).EnsureSuccess("curl -6").StdOut.Trim();
            counts[body] = counts.GetValueOrDefault(body) + 1;
        }

        Assert.Equal(["rs1", "rs2", "rs3"], counts.Keys.Order());
        Assert.All(counts.Values, c => Assert.Equal(3, c));
    }
}
