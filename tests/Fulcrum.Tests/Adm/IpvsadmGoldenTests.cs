using System.Net;
using Fulcrum.Adm;
using Fulcrum.Balancing;

namespace Fulcrum.Tests.Adm;

/// <summary>
/// Listings compared byte for byte with Golden/Adm/*.txt, which make_golden.py prints from
/// ipvsadm.c's own format strings (an oracle independent of this code).
/// </summary>
public class IpvsadmGoldenTests
{
    [Fact]
    public void Ln_ReferenceSeed_MatchesWorkedExampleExactly()
    {
        // ipvsadm-keepalived.md §4, with its `$` end-of-line marks turned back into bytes.
        const string expected =
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            + "Prot LocalAddress:Port Scheduler Flags\n"
            + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            + "TCP  198.51.100.100:80 rr\n"
            + "  -> 198.51.100.2:80              Route   1      0          0         \n"
            + "  -> 198.51.100.3:80              Route   1      0          0         \n";
        AdmResult r = AdmHarness.Seed().Run("-Ln");
        Assert.Equal(new AdmResult(0, expected, ""), r);
    }

    [Theory]
    [InlineData("seed.Ln.txt", "-Ln")]
    [InlineData("seed.Ln.txt", "-L -n")]
    [InlineData("seed.Ln.txt", "--list --numeric --sort")]
    [InlineData("seed.Ln.txt", "-ln")]
    [InlineData("seed.Ln-stats.txt", "-Ln --stats")]
    [InlineData("seed.Ln-rate.txt", "-Ln --rate")]
    [InlineData("seed.Ln-thresholds.txt", "-Ln --thresholds")]
    [InlineData("seed.Ln-persistent-conn.txt", "-Ln --persistent-conn")]
    [InlineData("seed.Sn.txt", "-Sn")]
    [InlineData("seed.Sn.txt", "--save --numeric")]
    public void List_Seed_MatchesGolden(string golden, string args) =>
        AssertGolden(AdmHarness.Seed(), golden, args);

    [Theory]
    [InlineData("misc.Ln.txt", "-Ln")]
    [InlineData("misc.Sn.txt", "-Sn")]
    [InlineData("misc.Ln-tun-info.txt", "-Ln --tun-info")]
    public void List_PersistentOpsFwmarkTable_MatchesGolden(string golden, string args) =>
        AssertGolden(Misc(), golden, args);

    [Theory]
    [InlineData("big.Ln-stats.txt", "-Ln --stats")]
    [InlineData("big.Ln-stats-exact.txt", "-Ln --stats --exact")]
    [InlineData("big.Ln-rate.txt", "-Ln --rate")]
    [InlineData("big.Ln-rate-exact.txt", "-Ln --rate -X")]
    public void List_LargeCounters_MatchesGolden(string golden, string args) =>
        AssertGolden(Big(), golden, args);

    [Theory]
    [InlineData("pt.Ln-thresholds.txt", "-Ln --thresholds")]
    [InlineData("pt.Ln-persistent-conn.txt", "-Ln --persistent-conn")]
    [InlineData("pt.Sn.txt", "-Sn")]
    public void List_ThresholdsAndPersistence_MatchesGolden(string golden, string args) =>
        AssertGolden(Thresholds(), golden, args);

    [Theory]
    [InlineData("v6.Ln.txt", "-Ln")]
    [InlineData("v6.Sn.txt", "-Sn")]
    [InlineData("v6.Ln-tun-info.txt", "-Ln --tun-info")]
    public void List_IPv6AndFwmark6_MatchesGolden(string golden, string args) =>
        AssertGolden(V6(), golden, args);

    [Theory]
    [InlineData("names.L.txt", "-L")]
    [InlineData("names.L.txt", "")]
    [InlineData("names.S.txt", "-S")]
    public void List_NonNumeric_ResolvesFromFilesAndTruncates(string golden, string args) =>
        AssertGolden(Names(), golden, args);

    [Theory]
    [InlineData("sort.Ln.txt", "-Ln")]
    [InlineData("sort.Ln-nosort.txt", "-Ln --nosort")]
    public void List_Sorting_FollowsLibipvsComparatorsWithWrap(string golden, string args) =>
        AssertGolden(Sorting(), golden, args);

    [Theory]
    [InlineData("conn.Lnc.txt", "-Lnc")]
    [InlineData("conn.Lnc.txt", "-L -c -n")]
    [InlineData("conn.Lc.txt", "-Lc")]
    [InlineData("conn.Lnc-persistent-conn.txt", "-Lnc --persistent-conn")]
    public void ListConnections_MatchesGolden(string golden, string args) =>
        AssertGolden(Connections(), golden, args);

    [Fact]
    public void Help_PrintsUsageOnStdout_Exit0()
    {
        AdmResult r = new AdmHarness().Run("-h");
        Assert.Equal(new AdmResult(0, AdmHarness.Golden("help.txt"), ""), r);
    }

    [Fact]
    public void Help_SubstitutesProgramName()
    {
        AdmResult r = Ipvsadm.Run(["--help"], TextReader.Null, new FakeIpvsControl(), "fulcrum adm");
        Assert.Equal(AdmHarness.Golden("help.txt").Replace("  ipvsadm -", "  fulcrum adm -", StringComparison.Ordinal), r.Stdout);
        Assert.Equal(0, r.ExitCode);
    }

    [Theory]
    [InlineData("-v")]
    [InlineData("--version")]
    [InlineData("-v -L")]
    public void Version_PrintsCompiledVersion(string args)
    {
        AdmResult r = new AdmHarness().Run(AdmHarness.Split(args));
        Assert.Equal(new AdmResult(0, "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n", ""), r);
    }

    [Fact]
    public void ListService_PrintsTitleAndServiceWithoutVersionHeader()
    {
        string all = AdmHarness.Golden("seed.Ln.txt");
        AdmResult r = AdmHarness.Seed().Run("-L", "-n", "-t", "198.51.100.100:80");
        Assert.Equal(new AdmResult(0, all[(all.IndexOf('\n', StringComparison.Ordinal) + 1)..], ""), r);
    }

    [Fact]
    public void Timeout_PrintsKernelDefaults()
    {
        AdmResult r = new AdmHarness().Run("-L", "--timeout");
        Assert.Equal(new AdmResult(0, "Timeout (tcp tcpfin udp): 900 120 300\n", ""), r);
    }

    [Fact]
    public void Header_ReportsControlTableSize()
    {
        var h = new AdmHarness();
        h.Control.ConnectionTableSize = 1048576;
        Assert.StartsWith("IP Virtual Server version 1.2.1 (size=1048576)\n", h.Run("-Ln").Stdout, StringComparison.Ordinal);
    }

    private static void AssertGolden(AdmHarness h, string golden, string args)
    {
        AdmResult r = h.Run(AdmHarness.Split(args));
        Assert.Equal("", r.Stderr);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(AdmHarness.Golden(golden), r.Stdout);
    }

    internal static AdmHarness Misc()
    {
        var h = new AdmHarness();
        h.Ok("-A -t 198.51.100.100:443 -s wlc -p 360 -M 255.255.255.0");
        h.Ok("-a -t 198.51.100.100:443 -r 10.0.0.2:8443 -m -w 5");
        h.Control.SetDestCounters(AdmHarness.Tcp("198.51.100.100", 443), IPAddress.Parse("10.0.0.2"), 8443, 3, 12);
        h.Ok("-A -u 198.51.100.100:53 -s rr -o");
        h.Ok("-a -u 198.51.100.100:53 -r 198.51.100.4 -i -w 0");
        h.Ok("-A -f 7 -s sh -b sh-fallback,sh-port");
        h.Ok("-a -f 7 -r 198.51.100.5");
        return h;
    }

    private static AdmHarness Big()
    {
        var h = new AdmHarness();
        h.Ok("-A -t 198.51.100.100:80");
        h.Ok("-a -t 198.51.100.100:80 -r 198.51.100.2");
        h.Ok("-a -t 198.51.100.100:80 -r 198.51.100.3");
        ServiceKey k = AdmHarness.Tcp("198.51.100.100", 80);
        h.Control.SetServiceCounters(k, new IpvsStats(123456789, 5000000000, 1234567890123, 123456789012345678, 99999999),
            new IpvsRates(12345, 123456789, 0, 1000000000, 5));
        h.Control.SetDestCounters(k, IPAddress.Parse("198.51.100.2"), 80, 0, 0, 0,
            new IpvsStats(100000000, 999999999, 1000000000, 99999999999, 100000000000),
            new IpvsRates(123456789, 5, 6, 200000000, 7));
        h.Control.SetDestCounters(k, IPAddress.Parse("198.51.100.3"), 80, 0, 0, 0,
            new IpvsStats(99999999999999, 100000000000000, 0, 1, ulong.MaxValue),
            new IpvsRates(1, 2, 3, 4, 99999999));
        return h;
    }

    internal static AdmHarness Thresholds()
    {
        var h = new AdmHarness();
        h.Ok("-A -t 198.51.100.100:443 -p 3600");
        h.Ok("-a -t 198.51.100.100:443 -r 198.51.100.2 -w 10 -x 100 -y 50");
        h.Ok("-a -t 198.51.100.100:443 -r 198.51.100.3:443 -m -w 0 -x 2147483647");
        ServiceKey k = AdmHarness.Tcp("198.51.100.100", 443);
        h.Control.SetDestCounters(k, IPAddress.Parse("198.51.100.2"), 443, 7, 8, 9);
        h.Control.SetDestCounters(k, IPAddress.Parse("198.51.100.3"), 443, 123456, 1234567890, 4294967295);
        return h;
    }

    internal static AdmHarness V6()
    {
        var h = new AdmHarness();
        h.Ok("-A -t [2001:db8:100::100]:80 -s wlc -p 600 -M 64 --pe sip");
        h.Ok("-a -t [2001:db8:100::100]:80 -r [2001:db8::10]:8080 -m");
        h.Ok("-a -t [2001:db8:100::100]:80 -r [2001:db8::2]:80 -m -w 3");
        h.Ok("-A -u [2001:db8:100::100]:53 -s wrr -o");
        h.Ok("-a -u [2001:db8:100::100]:53 -r 2001:db8::3");
        h.Ok("-A -f 9 -6 -s rr");
        h.Ok("-a -f 9 -6 -r 2001:db8::5");
        h.Ok("-A -t 198.51.100.100:80 -s rr");
        h.Ok("-a -t 198.51.100.100:80 -r [2001:db8::7]:8080 -i");
        return h;
    }

    internal static AdmHarness Names()
    {
        var h = new AdmHarness();
        h.Ok("-A -t vip:http -s rr");
        h.Ok("-a -t vip:http -r rs1.example.com");
        h.Ok("-a -t vip:http -r 198.51.100.3:www");
        h.Ok("-a -t vip:http -r 198.51.100.4");
        h.Ok("-A -t 198.51.100.3:https -s rr -p");
        h.Ok("-a -t 198.51.100.3:https -r 198.51.100.4");
        h.Ok("-A -u vip:domain -s rr");
        h.Ok("-a -u vip:domain -r RS1.example.com -m");
        h.Ok("-A -t [2001:db8::2]:http -s rr");
        h.Ok("-a -t [2001:db8::2]:http -r [2001:db8::2]:8080 -m");
        return h;
    }

    private static AdmHarness Sorting()
    {
        var h = new AdmHarness();
        h.Ok("-A -t 10.0.0.1:80");
        h.Ok("-a -t 10.0.0.1:80 -r 10.0.0.5");
        h.Ok("-a -t 10.0.0.1:80 -r 200.0.0.5");
        h.Ok("-a -t 10.0.0.1:80 -r 192.168.0.1");
        h.Ok("-a -t 10.0.0.1:80 -r 10.0.0.5:22 -m");
        h.Ok("-A -t 200.0.0.1:80");
        h.Ok("-A -u 10.0.0.1:53");
        h.Ok("-A -f 3");
        h.Ok("-A -f 1");
        h.Ok("-A -f 4294967295");
        h.Ok("-A -t 10.0.0.1:22");
        h.Ok("-A -t [2001:db8::1]:80");
        h.Ok("-A -t 9.0.0.1:80");
        h.Ok("-A --sctp-service 10.0.0.1:80");
        h.Ok("-A -t 127.0.0.1:80");
        return h;
    }

    private static AdmHarness Connections()
    {
        var h = new AdmHarness();
        IPAddress vip = IPAddress.Parse(AdmHarness.Vip);
        h.Control.Connections.AddRange(
        [
            new(IpProtocol.Tcp, IPAddress.Parse("203.0.113.7"), 51514, vip, 80, IPAddress.Parse("198.51.100.2"), 80, "ESTABLISHED", 898),
            new(IpProtocol.Tcp, IPAddress.Parse("203.0.113.9"), 40000, vip, 80, IPAddress.Parse("198.51.100.3"), 80, "SYN_RECV", 57),
            new(IpProtocol.Tcp, IPAddress.Parse("203.0.113.8"), 3333, vip, 80, IPAddress.Parse("198.51.100.3"), 80, "TIME_WAIT", 119),
            new(IpProtocol.Udp, IPAddress.Parse("2001:db8::99"), 5353, IPAddress.Parse("2001:db8:100::100"), 53, IPAddress.Parse("2001:db8::3"), 53, "UDP", 300),
            new(IpProtocol.Udp, IPAddress.Parse("203.0.113.7"), 5060, vip, 5060, IPAddress.Parse("198.51.100.2"), 5060, "UDP", 180, "sip", "call-123@example"),
            new(IpProtocol.Tcp, IPAddress.Parse("203.0.113.10"), 1, vip, 443, IPAddress.Parse("198.51.100.4"), 443, "NONE", 7200),
        ]);
        return h;
    }
}
