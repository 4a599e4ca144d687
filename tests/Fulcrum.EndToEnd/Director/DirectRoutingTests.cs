using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.Linux;
using Fulcrum.Packets;

namespace Fulcrum.EndToEnd.Director;

/// <summary>
/// The LVS-DR seed, end to end: a real client (curl, wrk, UDP) in its namespace, a router, Fulcrum in
/// lb1 holding the VIP, nginx on rs1..rs3 with the VIP on lo. Each test starts from the seed's config.
/// </summary>
public sealed class DirectRoutingTests : IClassFixture<DirectorFixture>
{
    private static readonly string[] Names = ["rs1", "rs2", "rs3"];
    private readonly DirectorFixture _f;

    public DirectRoutingTests(DirectorFixture fixture)
    {
        _f = fixture;
        _f.ResetToSeed();
    }

    [Fact]
    public void RoundRobin_ThirtyRequests_LandTenOnEachRealServer()
    {
        var counts = Names.ToDictionary(n => n, _ => 0);
        for (int i = 0; i < 30; i++)
        {
            var body = ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim();
            Assert.Contains(body, Names);
            counts[body]++;
        }

        Assert.All(Names, n => Assert.Equal(10, counts[n]));
        var listing = _f.Director.Adm("-ln").EnsureSuccess("ipvsadm -ln").StdOut;
        Assert.Contains("TCP  198.51.100.100:80 rr\n", listing, StringComparison.Ordinal);
    }

    [Fact]
    public void Replies_GoStraightFromRealServersToTheRouter_NeverThroughTheDirector()
    {
        // Print mode (-l, one line per frame with its MACs): tcpdump -w left an empty file in namespaces here.
        using var tcpdump = _f.Lab.StartProcess("router", "tcpdump", "-i", "eth1", "-n", "-e", "-l", "tcp and src port 80");
        Wait.For(() => tcpdump.ReadLog().Contains("listening on", StringComparison.Ordinal), "tcpdump to start");
        for (int i = 0; i < 9; i++)
        {
            ClientTools.CurlBody(_f.Lab, _f.VipUrl);
        }

        Thread.Sleep(300);
        tcpdump.Signal("INT");
        tcpdump.WaitForExit(TimeSpan.FromSeconds(5));

        var frames = tcpdump.ReadLog().Split('\n').Where(l => l.Contains("ethertype IPv4", StringComparison.Ordinal)).ToArray();
        Assert.True(frames.Length >= 9 * 3, $"expected the replies of 9 requests at the router, saw {frames.Length} frames");
        var realServerMacs = LabAddresses.RealServers.Select(MacOf).ToHashSet();
        var senders = frames.Select(f => f.Split(' ')[1]).ToHashSet();
        Assert.Subset(realServerMacs, senders);
        Assert.DoesNotContain(MacOf(LabAddresses.Lb1), senders);

        // The director's own counters agree: it saw requests only (DR: OutPkts stay 0).
        var stats = _f.Director.Adm("-ln", "--stats", "--exact").EnsureSuccess("ipvsadm --stats").StdOut;
        var service = stats.Split('\n').Single(l => l.StartsWith("TCP  198.51.100.100:80", StringComparison.Ordinal));
        var columns = service.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(long.Parse(columns[3], CultureInfo.InvariantCulture) > 0, service);   // InPkts
        Assert.Equal("0", columns[4]);                                                   // OutPkts
    }

    [Fact]
    public void Wrk_KeepAliveForFiveSeconds_HasNoErrors()
    {
        var result = ClientTools.Wrk(_f.Lab, _f.VipUrl, connections: 32, seconds: 5);
        Assert.True(result.Requests > 1000, result.Output);
        Assert.Equal(0, result.Errors);
    }

    [Fact]
    public void UdpService_EchoesFromEveryRealServer()
    {
        var vip = LabAddresses.Vip + ":" + LabCluster.UdpEchoPort;
        _f.Director.Adm("-A", "-u", vip, "-s", "rr").EnsureSuccess("ipvsadm -A -u");
        foreach (var rs in LabAddresses.RealServers)
        {
            _f.Director.Adm("-a", "-u", vip, "-r", $"{rs}:{LabCluster.UdpEchoPort}", "-g").EnsureSuccess("ipvsadm -a -u");
        }

        var seen = new HashSet<string>();
        for (int i = 0; i < 6; i++)
        {
            var reply = ClientTools.UdpRequest(_f.Lab, LabAddresses.Vip.ToString(), LabCluster.UdpEchoPort, "ping-" + i);
            var lines = reply.Split('\n');
            Assert.Contains(lines[0], Names);
            Assert.Equal("ping-" + i, lines[1]);
            seen.Add(lines[0]);
        }

        Assert.Equal(Names.Length, seen.Count);
    }

    [Fact]
    public void DeleteRealServer_NewConnectionsAvoidIt()
    {
        _f.Director.Adm("-d", "-t", LabAddresses.Vip + ":80", "-r", LabAddresses.Rs2 + ":80").EnsureSuccess("ipvsadm -d");
        var bodies = Enumerable.Range(0, 12).Select(_ => ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim()).ToList();
        Assert.DoesNotContain("rs2", bodies);
        Assert.Equal(6, bodies.Count(b => b == "rs1"));
        Assert.Equal(6, bodies.Count(b => b == "rs3"));
    }

    [Fact]
    public void WeightZero_QuiescesNewConnections_WhileAnOpenKeepAliveConnectionKeepsWorking()
    {
        using var socket = KeepAliveClient.Open(_f.Lab);
        var first = KeepAliveClient.Get(socket);
        int index = Array.IndexOf(Names, first);
        Assert.True(index >= 0, first);
        _f.Director.Adm("-e", "-t", LabAddresses.Vip + ":80", "-r", LabAddresses.RealServers[index] + ":80", "-g", "-w", "0")
            .EnsureSuccess("ipvsadm -e -w 0");

        var bodies = Enumerable.Range(0, 9).Select(_ => ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim()).ToList();
        Assert.DoesNotContain(first, bodies);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(first, KeepAliveClient.Get(socket));
        }

        var listing = _f.Director.Adm("-ln").StdOut;
        Assert.Contains($"  -> {LabAddresses.RealServers[index]}:80".PadRight(33) + " Route   0      1", listing, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedFrames_AreCountedByReasonAndDropped_ServiceUnaffected()
    {
        const int PerReason = 50;
        var before = DropCounters();
        var frames = new (DropReason Reason, byte[] Frame)[]
        {
            (DropReason.BadIhl, Malformed(f => f[14] = 0x43)),
            (DropReason.BadChecksum, Malformed(f => f[24] ^= 0xFF, fixChecksum: false)),
            (DropReason.BadLength, Malformed(f => BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 1400))),
            (DropReason.Fragment, Malformed(f => f[20] = 0x20)),
            (DropReason.Truncated, Malformed(f => BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 20), length: 34)),
        };

        // Injected from lb2 (same segment) straight at lb1's MAC: a router would not forward such frames.
        using (var ring = NetworkNamespace.RunIn(_f.Lab.NamespaceOf("lb2"), () => new PacketRing(NetInterface.GetIndex("eth0"))))
        {
            for (int i = 0; i < PerReason; i++)
            {
                foreach (var (_, frame) in frames)
                {
                    Assert.True(ring.TrySend(frame));
                }

                ring.FlushTx();
            }
        }

        Wait.For(() => DropCounters()[nameof(DropReason.Truncated)] - before[nameof(DropReason.Truncated)] >= PerReason, "the drops to be counted");
        var after = DropCounters();
        string counted = string.Join(", ", after.Select(p => $"{p.Key} +{p.Value - before.GetValueOrDefault(p.Key)}"));
        foreach (var (reason, _) in frames)
        {
            Assert.True(after[reason.ToString()] - before[reason.ToString()] == PerReason, $"{reason}: expected {PerReason} more; counted {counted}");
        }

        Assert.Contains(ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim(), Names);
    }

    [Fact]
    public void DaemonKilled_RestartCleansStaleRules_AndServiceResumes()
    {
        var old = _f.Director;
        old.Process.Signal("KILL");
        Assert.True(old.Process.WaitForExit(TimeSpan.FromSeconds(5)));

        // What a crash leaves behind: the drop rules (the VIP is black-holed, never RST by lb1's stack). A kernel
        // tier stays attached and may schedule new connections until its lease (1 s) runs out; then nothing does.
        var table = ServiceClaimRules.TableName("eth0");
        Assert.True(_f.Lab.Exec("lb1", "nft", "list", "table", "netdev", table).Succeeded);
        Thread.Sleep(Fulcrum.Director.KernelScheduling.Lease + TimeSpan.FromMilliseconds(200));
        Assert.False(ClientTools.Curl(_f.Lab, _f.VipUrl).Succeeded);

        var fresh = _f.Restart();
        Wait.For(() => fresh.Process.ReadLog().Contains("removed stale kernel drop rules", StringComparison.Ordinal), "the stale rules to be removed");
        _f.ResetToSeed();
        var bodies = Enumerable.Range(0, 3).Select(_ => ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim()).ToHashSet();
        Assert.Equal(Names.Length, bodies.Count);
    }

    private Dictionary<string, long> DropCounters()
    {
        var json = _f.Director.Status(json: true).EnsureSuccess("fulcrum status --json").StdOut;
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("drops").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
    }

    /// <summary>A TCP SYN from lb2 to VIP:80 at lb1's MAC, then broken by <paramref name="breakIt"/>.</summary>
    private static byte[] Malformed(Action<byte[]> breakIt, bool fixChecksum = true, int length = 54)
    {
        var f = new byte[54];
        EthernetFrame.WriteMac(f, MacValue(LabAddresses.Lb1));
        EthernetFrame.WriteMac(f.AsSpan(6), MacValue(LabAddresses.Lb2));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        f[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 40);
        f[22] = 64;
        f[23] = 6;
        LabAddresses.Lb2.GetAddressBytes().CopyTo(f, 26);
        LabAddresses.Vip.GetAddressBytes().CopyTo(f, 30);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(34), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(36), 80);
        f[46] = 0x50;
        f[47] = 0x02;
        breakIt(f);
        if (fixChecksum)
        {
            f[24] = f[25] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), Checksum.Compute(f.AsSpan(14, 20)));
        }
        else
        {
            var sum = Checksum.Compute(f.AsSpan(14, 20));
            Assert.NotEqual(0, sum);
        }

        return f[..length];
    }

    private static ulong MacValue(IPAddress address)
    {
        var b = address.GetAddressBytes();
        return 0x0200_0000_0000UL | ((ulong)b[0] << 24) | ((ulong)b[1] << 16) | ((ulong)b[2] << 8) | b[3];
    }

    private static string MacOf(IPAddress address) => NetInterface.FormatMac(MacValue(address));
}
