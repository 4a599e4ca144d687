using System.Globalization;
using System.Text;
using System.Text.Json;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.RealServerSetup;

namespace Fulcrum.EndToEnd.Director;

/// <summary>
/// The metrics page of a real director in the lab, scraped with curl from inside its namespace (each
/// director has its own loopback), compared with `fulcrum adm -L -n --stats` and checked by promtool.
/// </summary>
public sealed class MetricsTests : IClassFixture<DirectorFixture>
{
    private const string DefaultUrl = "http://127.0.0.1:9138/metrics";
    private readonly DirectorFixture _f;

    public MetricsTests(DirectorFixture fixture)
    {
        _f = fixture;
        _f.ResetToSeed();
    }

    [Fact]
    public void Scrape_AfterTraffic_CountersMatchTheListingAndPromtoolAcceptsThePage()
    {
        var promtool = Promtool();
        for (int i = 0; i < 30; i++)
            ClientTools.CurlBody(_f.Lab, _f.VipUrl);

        // The two reads are a moment apart: settle on a pair taken while nothing moved.
        string page = "", stats = "", listing = "";
        string? mismatch = "not compared yet";
        Wait.For(() =>
        {
            stats = _f.Director.Adm("-L", "-n", "--stats", "--exact").EnsureSuccess("adm --stats").StdOut;
            listing = _f.Director.Adm("-L", "-n").EnsureSuccess("adm -Ln").StdOut;
            page = Scrape(_f.Lab, "lb1", DefaultUrl);
            var again = _f.Director.Adm("-L", "-n", "--stats", "--exact").EnsureSuccess("adm --stats").StdOut;
            mismatch = again == stats ? Compare(page, stats, listing) : "the listing moved";
            return mismatch is null;
        }, "the scrape to match the listing", seconds: 15);
        Assert.Null(mismatch);

        // Something was measured: 30 connections, each some packets in.
        Assert.Equal(30, Value(page, "node_ipvs_connections_total", ""));
        Assert.True(Value(page, "node_ipvs_incoming_packets_total", "") >= 30 * 3);
        // Every worker reports what its C# path forwarded; with the kernel tier (tc, xdp) that is only what the
        // kernel sent up, so the IPVS counters above are the measure of the traffic, this one of the C# path.
        var forwarded = page.Split('\n').Where(l => l.StartsWith("fulcrum_dataplane_forwarded_frames_total{", StringComparison.Ordinal)).ToList();
        Assert.Equal(_f.Director.Status().StdOut.Split('\n').Count(l => l.TrimStart().StartsWith("worker ", StringComparison.Ordinal)), forwarded.Count);
        if (_f.Director.Status().StdOut.Contains("Data path: AF_PACKET TPACKET_V3\n", StringComparison.Ordinal))
            Assert.True(forwarded.Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)) >= 30 * 3, string.Join('\n', forwarded));
        Assert.True(Value(page, "fulcrum_connection_table_capacity", "worker=\"0\"") > 0);

        var check = ExternalCommand.Run(promtool, ["check", "metrics"], page);
        Assert.True(check.ExitCode == 0, $"promtool check metrics failed ({check.ExitCode}): {check.StdOut}{check.StdErr}");
    }

    [Fact]
    public void Status_Json_ShowsTheServiceWithRatesAndRealServers()
    {
        for (int i = 0; i < 6; i++)
            ClientTools.CurlBody(_f.Lab, _f.VipUrl);
        var json = _f.Director.Status(json: true).EnsureSuccess("fulcrum status --json").StdOut;
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;

        Assert.Equal(1, root.GetProperty("version").GetInt32());
        Assert.True(root.GetProperty("workers").GetArrayLength() >= 1);
        var service = Assert.Single(root.GetProperty("services").EnumerateArray());
        Assert.Equal("TCP", service.GetProperty("protocol").GetString());
        Assert.Equal(LabAddresses.Vip.ToString(), service.GetProperty("address").GetString());
        Assert.True(service.GetProperty("stats").GetProperty("connections").GetInt64() >= 6);
        Assert.True(service.TryGetProperty("rates", out var rates) && rates.TryGetProperty("cps", out _));
        var dests = service.GetProperty("real_servers").EnumerateArray().Select(d => d.GetProperty("address").GetString()!).ToHashSet();
        Assert.Equal(LabAddresses.RealServers.Select(a => a.ToString()).ToHashSet(), dests);

        var text = _f.Director.Status().EnsureSuccess("fulcrum status").StdOut;
        Assert.Contains($"TCP {LabAddresses.Vip}:80 rr  conns ", text, StringComparison.Ordinal);
        Assert.Contains(" conn/s, ", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_MetricsFlag_MovesTheEndpointOrTurnsItOff()
    {
        var moved = LabDirector.Start(_f.Lab, "lb2", "--metrics", "127.0.0.1:9555");
        try
        {
            Assert.Contains("# TYPE node_ipvs_connections_total counter\n", Scrape(_f.Lab, "lb2", "http://127.0.0.1:9555/metrics"), StringComparison.Ordinal);
            Assert.Equal(7, ClientTools.Curl(_f.Lab, DefaultUrl, "lb2").ExitCode);   // refused: nothing on the default port
        }
        finally
        {
            moved.Process.Stop();
        }

        var off = LabDirector.Start(_f.Lab, "lb2", "--metrics", "off");
        try
        {
            Assert.Equal(7, ClientTools.Curl(_f.Lab, DefaultUrl, "lb2").ExitCode);
            Assert.Equal(7, ClientTools.Curl(_f.Lab, "http://127.0.0.1:9555/metrics", "lb2").ExitCode);
        }
        finally
        {
            off.Process.Stop();
        }

        var bad = ExternalCommand.Run(LabDirector.FulcrumPath, ["run", "--metrics", "9138", "-i", "fulcrum-none0", "--control", "/nonexistent/x.sock"]);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--metrics takes ADDR:PORT", bad.StdErr, StringComparison.Ordinal);
    }

    /// <summary>Null when every counter of the listing is on the page with the same value, else what differs.</summary>
    private static string? Compare(string page, string stats, string listing)
    {
        var problems = new StringBuilder();
        ulong[] totals = new ulong[5];
        string? service = null;
        foreach (var line in stats.Split('\n'))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 7 && f[0] is "TCP" or "UDP")
            {
                var (addr, port) = SplitEndpoint(f[1]);
                service = $"local_address=\"{addr}\",local_port=\"{port}\",proto=\"{f[0]}\",local_mark=\"\"";
                for (int i = 0; i < 5; i++)
                    totals[i] += ulong.Parse(f[2 + i], CultureInfo.InvariantCulture);
                Check(problems, page, "fulcrum_ipvs_service_", service, f.AsSpan(2));
            }
            else if (f.Length == 7 && f[0] == "->" && service is not null)
            {
                var (addr, port) = SplitEndpoint(f[1]);
                var labels = BackendLabels(service, addr, port);
                Check(problems, page, "fulcrum_ipvs_backend_", labels, f.AsSpan(2));
            }
        }

        string[] node = ["connections_total", "incoming_packets_total", "outgoing_packets_total", "incoming_bytes_total", "outgoing_bytes_total"];
        for (int i = 0; i < 5; i++)
        {
            long v = Value(page, "node_ipvs_" + node[i], "");
            if ((ulong)v != totals[i])
                problems.Append($"node_ipvs_{node[i]} {v} != {totals[i]}; ");
        }

        // -L -n: "  -> RS:PORT  Forward Weight ActiveConn InActConn"
        service = null;
        foreach (var line in listing.Split('\n'))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 3 && f[0] is "TCP" or "UDP")
            {
                var (addr, port) = SplitEndpoint(f[1]);
                service = $"local_address=\"{addr}\",local_port=\"{port}\",proto=\"{f[0]}\",local_mark=\"\"";
            }
            else if (f.Length == 6 && f[0] == "->" && service is not null && f[1] != "RemoteAddress:Port")
            {
                var (addr, port) = SplitEndpoint(f[1]);
                var labels = BackendLabels(service, addr, port);
                Expect(problems, page, "node_ipvs_backend_weight", labels, f[3]);
                Expect(problems, page, "node_ipvs_backend_connections_active", labels, f[4]);
                Expect(problems, page, "node_ipvs_backend_connections_inactive", labels, f[5]);
            }
        }

        return problems.Length == 0 ? null : problems.ToString();
    }

    private static void Check(StringBuilder problems, string page, string prefix, string labels, ReadOnlySpan<string> values)
    {
        string[] names = ["connections_total", "incoming_packets_total", "outgoing_packets_total", "incoming_bytes_total", "outgoing_bytes_total"];
        for (int i = 0; i < 5; i++)
            Expect(problems, page, prefix + names[i], labels, values[i]);
    }

    private static void Expect(StringBuilder problems, string page, string name, string labels, string expected)
    {
        long v = Value(page, name, labels);
        if (v.ToString(CultureInfo.InvariantCulture) != expected)
            problems.Append($"{name}{{{labels}}} {v} != {expected}; ");
    }

    // node_exporter's label order: local_address, local_port, remote_address, remote_port, proto, local_mark.
    private static string BackendLabels(string service, string addr, string port)
    {
        var parts = service.Split(',');
        return $"{parts[0]},{parts[1]},remote_address=\"{addr}\",remote_port=\"{port}\",{parts[2]},{parts[3]}";
    }

    private static (string Address, string Port) SplitEndpoint(string s)
    {
        int colon = s.LastIndexOf(':');
        return (s[..colon].Trim('[', ']'), s[(colon + 1)..]);
    }

    /// <summary>The value of the sample <paramref name="name"/>{<paramref name="labels"/>}; fails when absent.</summary>
    private static long Value(string page, string name, string labels)
    {
        var prefix = labels.Length == 0 ? name + " " : name + "{" + labels + "} ";
        foreach (var line in page.Split('\n'))
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
                return long.Parse(line[prefix.Length..], CultureInfo.InvariantCulture);
        }

        throw new Xunit.Sdk.XunitException($"no sample {prefix.Trim()} on the page:\n{page}");
    }

    private static string Scrape(LabCluster lab, string host, string url) =>
        ClientTools.Curl(lab, url, host, "--fail").EnsureSuccess($"curl {url} in {host}").StdOut;

    /// <summary>promtool from Debian's prometheus package (eng/install-deps.sh); missing is a failure, not a skip.</summary>
    internal static string Promtool()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            var path = Path.Combine(dir, "promtool");
            if (File.Exists(path))
                return path;
        }

        throw new InvalidOperationException("promtool is not installed: eng/install-deps.sh installs it (Debian package prometheus)");
    }
}
