using System.Globalization;
using System.Text.Json;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.RealServerSetup;

namespace Fulcrum.EndToEnd.Bpf;

/// <summary>A lab with Fulcrum in lb1 run with a kernel-tier driver, configured with the seed's commands.</summary>
public abstract class KernelTierFixture : IAsyncLifetime
{
    private readonly LabFixture _lab;
    private LabDirector? _director;

    protected KernelTierFixture(string driver)
    {
        Driver = driver;
        _lab = new LabFixture { NativeXdpWire = driver == "xdp" };
    }

    public string Driver { get; }

    public LabCluster Lab => _lab.Lab;

    public LabDirector Director => _director ?? throw new InvalidOperationException("the director is not running");

    public async Task InitializeAsync()
    {
        await _lab.InitializeAsync();
        _director = LabDirector.Start(Lab, "lb1", "--driver", Driver);
        _director.ApplySeed();
    }

    public Task DisposeAsync() => _lab.DisposeAsync();
}

public sealed class TcKernelTierFixture : KernelTierFixture
{
    public TcKernelTierFixture()
        : base("tc")
    {
    }
}

public sealed class XdpGenericKernelTierFixture : KernelTierFixture
{
    public XdpGenericKernelTierFixture()
        : base("xdp-generic")
    {
    }
}

/// <summary>
/// Native XDP on veth (`--driver xdp`), on a wire made fit for it (<see cref="LabCluster.NativeXdpWire"/>: an XDP
/// program on the switch's port, complete checksums from the client), as a NIC's wire is.
/// </summary>
public sealed class XdpNativeKernelTierFixture : KernelTierFixture
{
    public XdpNativeKernelTierFixture()
        : base("xdp")
    {
    }
}

/// <summary>
/// The kernel tier end to end: the seed's HTTP service and a UDP service through Fulcrum with the BPF program
/// forwarding established flows; ipvsadm counters stay exact although C# no longer sees those packets.
/// </summary>
public abstract class KernelTierTests
{
    private static readonly string[] Names = ["rs1", "rs2", "rs3"];
    private readonly KernelTierFixture _f;

    protected KernelTierTests(KernelTierFixture fixture)
    {
        _f = fixture;
        var vip = LabAddresses.Vip + ":80";
        _f.Director.Adm("-C").EnsureSuccess("ipvsadm -C");
        _f.Director.Adm("-A", "-t", vip, "-s", "rr").EnsureSuccess("ipvsadm -A");
        foreach (var rs in LabAddresses.RealServers)
        {
            _f.Director.Adm("-a", "-t", vip, "-r", rs + ":80", "-g").EnsureSuccess("ipvsadm -a");
        }
    }

    [Fact]
    public void Daemon_LogsTheChosenDriver()
    {
        Assert.Contains("kernel tier on eth0: ", _f.Director.Process.ReadLog(), StringComparison.Ordinal);
        Assert.Contains($"Data path: AF_PACKET TPACKET_V2 + kernel tier ({_f.Driver})\n", _f.Director.Status().StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void Curl_ThirtyRequests_LandTenOnEachRealServer_ScheduledByTheKernel()
    {
        long before = KernelScheduled();
        var counts = Names.ToDictionary(n => n, _ => 0);
        for (int i = 0; i < 30; i++)
        {
            var body = ClientTools.CurlBody(_f.Lab, $"http://{LabAddresses.Vip}/").Trim();
            Assert.Contains(body, Names);
            counts[body]++;
        }

        Assert.All(Names, n => Assert.Equal(10, counts[n]));
        // The seed's service is rr over DR real servers: the program schedules its SYNs itself, continuing the
        // C# tier's round (the first few, before the service was published, may have been C#'s).
        Assert.True(KernelScheduled() - before >= 25, $"the kernel tier scheduled {KernelScheduled() - before} of 30 connections");
    }

    private long KernelScheduled()
    {
        using var doc = JsonDocument.Parse(_f.Director.Status(json: true).EnsureSuccess("status --json").StdOut);
        return doc.RootElement.GetProperty("kernel_scheduled").GetInt64();
    }

    [Fact]
    public void Wrk_KeepAlive_HasNoErrors_AndMostPacketsPassTheKernelTier()
    {
        var result = ClientTools.Wrk(_f.Lab, $"http://{LabAddresses.Vip}/", connections: 8, seconds: 3);
        Assert.True(result.Requests > 1000, result.Output);
        Assert.Equal(0, result.Errors);
    }

    [Fact]
    public void KeepAliveConnection_HasAMapEntryWhileItLives()
    {
        using var socket = KeepAliveClient.Open(_f.Lab);
        Assert.Contains(KeepAliveClient.Get(socket), Names);
        Assert.Contains(KeepAliveClient.Get(socket), Names);
        int port = ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
        Wait.For(() => MapPackets(6, port) is not null, $"a TCP entry for client port {port} in fulcrum_conns");
        // The second request's segments (and the first's, once established) passed the kernel tier.
        Assert.True(MapPackets(6, port) > 0, "the kernel tier forwarded none of the connection's segments");
    }

    [Fact]
    public void UdpFlow_NDatagrams_StatsShowExactlyN()
    {
        const int N = 200;
        var vip = LabAddresses.Vip + ":" + LabCluster.UdpEchoPort;
        _f.Director.Adm("-A", "-u", vip, "-s", "rr").EnsureSuccess("ipvsadm -A -u");
        _f.Director.Adm("-a", "-u", vip, "-r", $"{LabAddresses.Rs1}:{LabCluster.UdpEchoPort}", "-g").EnsureSuccess("ipvsadm -a -u");

        // One socket, one flow: N datagrams, each after the previous echo came back.
        const string Script = """
            my ($a, $p, $n) = @ARGV;
            my $s = IO::Socket::INET->new(PeerAddr => $a, PeerPort => $p, Proto => "udp") or die "$!\n";
            my $sel = IO::Select->new($s); my $got = 0;
            for my $i (1 .. $n) { $s->send("dgram-$i"); if ($sel->can_read(2)) { $s->recv(my $r, 65535); $got++ } }
            print $s->sockport(), " ", $got, "\n";
            """;
        var output = _f.Lab.Exec("client", TimeSpan.FromSeconds(60), "perl", "-MIO::Socket::INET", "-MIO::Select", "-e", Script,
            LabAddresses.Vip.ToString(), LabCluster.UdpEchoPort.ToString(CultureInfo.InvariantCulture), N.ToString(CultureInfo.InvariantCulture))
            .EnsureSuccess("udp flow").StdOut.Trim().Split(' ');
        int port = int.Parse(output[0], CultureInfo.InvariantCulture);
        Assert.Equal(N, int.Parse(output[1], CultureInfo.InvariantCulture));

        // The flow lives (UDP timeout 300 s): its entry is in the kernel tier's map, which forwarded every
        // datagram after the first (the C# tier scheduled that one and installed the entry).
        Assert.Equal(N - 1, MapPackets(17, port));

        // The C# tier saw the first datagram only; the sweep folds the kernel's count in within 250 ms.
        Wait.For(() => UdpInPackets() == N, $"InPkts of the UDP service to reach {N}");
        Thread.Sleep(600);
        Assert.Equal(N, UdpInPackets());
        var listing = _f.Director.Adm("-ln", "--stats", "--exact").EnsureSuccess("ipvsadm --stats").StdOut;
        var line = listing.Split('\n').Single(l => l.StartsWith($"  -> {LabAddresses.Rs1}:{LabCluster.UdpEchoPort}", StringComparison.Ordinal));
        Assert.Equal(N.ToString(CultureInfo.InvariantCulture), line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3]);
    }

    private long UdpInPackets()
    {
        var stats = _f.Director.Adm("-ln", "--stats", "--exact").EnsureSuccess("ipvsadm --stats").StdOut;
        var service = stats.Split('\n').Single(l => l.StartsWith($"UDP  {LabAddresses.Vip}:{LabCluster.UdpEchoPort}", StringComparison.Ordinal));
        return long.Parse(service.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3], CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// bpftool's view of the map: the packets of the entry for this protocol and client port, or null when there is none.
    /// </summary>
    private long? MapPackets(int protocol, int port)
    {
        // Other directors (tests running in parallel) have maps of the same name: look in each; the client
        // port the kernel gave this test's socket tells its entry apart.
        var show = _f.Lab.Exec("lb1", "bpftool", "-j", "map", "show", "name", "fulcrum_conns").EnsureSuccess("bpftool map show").StdOut.Trim();
        var ids = new List<string>();
        using (var maps = JsonDocument.Parse(show.StartsWith('[') ? show : "[" + show + "]"))
        {
            foreach (var map in maps.RootElement.EnumerateArray())
                ids.Add(map.GetProperty("id").GetInt32().ToString(CultureInfo.InvariantCulture));
        }

        foreach (var id in ids)
        {
            var dump = _f.Lab.Exec("lb1", "bpftool", "-j", "map", "dump", "id", id).EnsureSuccess("bpftool map dump").StdOut;
            using var doc = JsonDocument.Parse(dump);
            foreach (var entry in doc.RootElement.EnumerateArray())
            {
                // With BTF: {"formatted": {"key": {"protocol": 17, ..., "client_port": <network order>},
                // "value": {"packets": n, ...}}}.
                if (!entry.TryGetProperty("formatted", out var f))
                    continue;
                var key = f.GetProperty("key");
                int raw = key.GetProperty("client_port").GetInt32();
                int hostOrder = ((raw & 0xFF) << 8) | (raw >> 8);
                if (key.GetProperty("protocol").GetInt32() != protocol || hostOrder != port)
                    continue;
                return f.GetProperty("value").GetProperty("packets").GetInt64();
            }
        }

        return null;
    }
}

/// <summary>One lab at a time: two directors starting together on this 2-CPU machine overran the 20 s start timeout.</summary>
[CollectionDefinition("KernelTier")]
public sealed class KernelTierGroup
{
}

[Collection("KernelTier")]
public sealed class TcKernelTierTests : KernelTierTests, IClassFixture<TcKernelTierFixture>
{
    public TcKernelTierTests(TcKernelTierFixture fixture)
        : base(fixture)
    {
    }
}

[Collection("KernelTier")]
public sealed class XdpGenericKernelTierTests : KernelTierTests, IClassFixture<XdpGenericKernelTierFixture>
{
    public XdpGenericKernelTierTests(XdpGenericKernelTierFixture fixture)
        : base(fixture)
    {
    }
}

[Collection("KernelTier")]
public sealed class XdpNativeKernelTierTests : KernelTierTests, IClassFixture<XdpNativeKernelTierFixture>
{
    public XdpNativeKernelTierTests(XdpNativeKernelTierFixture fixture)
        : base(fixture)
    {
    }
}
