using System.Net;
using System.Text.Json;
using Fulcrum.Balancing;
using Fulcrum.Config;
using Fulcrum.Director;
using Fulcrum.Health;

namespace Fulcrum.Tests.Director;

public class StatusRendererTests
{
    [Fact]
    public void Text_ShowsTotalsOverWorkers()
    {
        var text = StatusRenderer.Text(StatusFixtures.Report());

        Assert.Contains("Interface: eth0, workers: 2\n", text, StringComparison.Ordinal);
        Assert.Contains("Frames received: 1500, sent: 1350, dropped by the kernel (RX ring full): 7\n", text, StringComparison.Ordinal);
        Assert.Contains("Forwarded frames: 1330\n", text, StringComparison.Ordinal);
        Assert.Contains("Connections: 18 (capacity 2097152)\n", text, StringComparison.Ordinal);
        Assert.Contains("  NotSyn         5\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void KernelScheduledConnections_SummedOverWorkers_InTextJsonAndMetrics()
    {
        var r = StatusFixtures.Report();
        var workers = r.Workers.Select(w => w with { KernelScheduled = 100 + w.Index, KernelScheduleRefused = w.Index }).ToList();
        r = r with { Workers = workers };
        Assert.Contains("Connections scheduled by the kernel tier: 201 (not taken: 1)\n", StatusRenderer.Text(r), StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(StatusRenderer.Json(r));
        Assert.Equal(201, doc.RootElement.GetProperty("kernel_scheduled").GetInt64());
        Assert.Equal(1, doc.RootElement.GetProperty("kernel_schedule_refused").GetInt64());
        var w = new Fulcrum.Metrics.MetricsWriter();
        DirectorMetrics.Write(w, r);
        Assert.Contains("\nfulcrum_kernel_scheduled_connections_total{worker=\"1\"} 101\n", w.ToString(), StringComparison.Ordinal);

        // Without the kernel tier scheduling anything, no such line.
        Assert.DoesNotContain("scheduled by the kernel", StatusRenderer.Text(StatusFixtures.Report()), StringComparison.Ordinal);
    }

    [Fact]
    public void DataPath_ShownInTextAndJson_OnlyWhenKnown()
    {
        var r = StatusFixtures.Report() with { DataPath = "AF_PACKET TPACKET_V2 + kernel tier (tc)" };
        Assert.Contains("Interface: eth0, workers: 2\nData path: AF_PACKET TPACKET_V2 + kernel tier (tc)\n", StatusRenderer.Text(r), StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(StatusRenderer.Json(r));
        Assert.Equal("AF_PACKET TPACKET_V2 + kernel tier (tc)", doc.RootElement.GetProperty("data_path").GetString());

        var unknown = StatusFixtures.Report();
        Assert.DoesNotContain("Data path:", StatusRenderer.Text(unknown), StringComparison.Ordinal);
        using var doc2 = JsonDocument.Parse(StatusRenderer.Json(unknown));
        Assert.False(doc2.RootElement.TryGetProperty("data_path", out _));
    }

    [Fact]
    public void With_KeepsDataPath()
    {
        var r = StatusFixtures.Report() with { DataPath = "AF_XDP copy mode" };
        Assert.Equal("AF_XDP copy mode", (r with { Services = [] }).DataPath);
    }

    [Fact]
    public void Text_ShowsVrrpServicesWithRatesAndRealServersWithHealth()
    {
        var text = StatusRenderer.Text(StatusFixtures.Report());

        Assert.Contains("  VI_1 eth0 vrid 51 v2 MASTER priority 150 master 198.51.100.11 vips 198.51.100.100\n", text, StringComparison.Ordinal);
        Assert.Contains("  TCP 198.51.100.100:80 rr  conns 21  3 conn/s, 30/0 pkt/s in/out, 1800/0 B/s in/out\n", text, StringComparison.Ordinal);
        Assert.Contains("    -> 198.51.100.3:80 Route weight 2 active 4 inactive 0 UP  conns 11  1 conn/s, 10/0 pkt/s in/out, 600/0 B/s in/out\n", text, StringComparison.Ordinal);
        Assert.Contains("  FWM 1 wlc persistent 300  conns 1  ", text, StringComparison.Ordinal);
        Assert.Contains("    -> 198.51.100.4:0 Tunnel weight 5 active 0 inactive 0  conns 1", text, StringComparison.Ordinal);
        Assert.Contains("  198.51.100.100:80 -> 198.51.100.9:80 DOWN since 2026-11-26 14:00:30Z weight 1 TCP_CHECK=failed (connection refused) TCP_CHECK=ok\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_NoServicesNoVrrp_SaysNone()
    {
        var r = StatusFixtures.Report() with { Services = [], Vrrp = [], Health = [], VirtualServers = [] };
        var text = StatusRenderer.Text(r);

        Assert.Contains("VRRP instances:\n  (none)\n", text, StringComparison.Ordinal);
        Assert.Contains("Virtual services:\n  (none)\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Health checks:", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_HasTheDocumentedShape()
    {
        using var doc = JsonDocument.Parse(StatusRenderer.Json(StatusFixtures.Report()));
        var root = doc.RootElement;

        Assert.Equal(1, root.GetProperty("version").GetInt32());
        Assert.Equal("eth0", root.GetProperty("interface").GetString());
        Assert.Equal(2, root.GetProperty("workers").GetArrayLength());
        Assert.Equal(1500, root.GetProperty("rx_frames").GetInt64());
        Assert.Equal(1330, root.GetProperty("forwarded").GetInt64());
        Assert.Equal(5, root.GetProperty("drops").GetProperty("NotSyn").GetInt64());
        Assert.Equal(18, root.GetProperty("connections").GetProperty("count").GetInt64());

        var vrrp = root.GetProperty("vrrp")[0];
        Assert.Equal("MASTER", vrrp.GetProperty("state").GetString());
        Assert.Equal("198.51.100.11", vrrp.GetProperty("master").GetString());
        Assert.Equal("198.51.100.100", vrrp.GetProperty("vips")[0].GetString());
        Assert.Equal(2, vrrp.GetProperty("transitions").GetInt64());

        var web = root.GetProperty("services")[0];
        Assert.Equal("TCP", web.GetProperty("protocol").GetString());
        Assert.Equal(80, web.GetProperty("port").GetInt32());
        Assert.Equal(21, web.GetProperty("stats").GetProperty("connections").GetInt64());
        Assert.Equal(1800, web.GetProperty("rates").GetProperty("in_bps").GetInt64());
        var rs = web.GetProperty("real_servers")[1];
        Assert.Equal("198.51.100.3", rs.GetProperty("address").GetString());
        Assert.Equal("route", rs.GetProperty("forward").GetString());
        Assert.Equal(2, rs.GetProperty("weight").GetInt32());
        Assert.Equal("up", rs.GetProperty("health").GetString());
        Assert.Equal(110, rs.GetProperty("stats").GetProperty("in_packets").GetInt64());

        var mark = root.GetProperty("services")[1];
        Assert.Equal("FWM", mark.GetProperty("protocol").GetString());
        Assert.Equal(1u, mark.GetProperty("fwmark").GetUInt32());
        Assert.Equal(JsonValueKind.Null, mark.GetProperty("real_servers")[0].GetProperty("health").ValueKind);

        var down = root.GetProperty("health")[2];
        Assert.False(down.GetProperty("up").GetBoolean());
        Assert.Equal("2026-11-26T14:00:30+00:00", down.GetProperty("since").GetString());
        Assert.Equal("connection refused", down.GetProperty("checks")[0].GetProperty("last_failure").GetString());
        Assert.Equal(JsonValueKind.Null, down.GetProperty("checks")[1].GetProperty("last_run").ValueKind);
        Assert.True(root.GetProperty("virtual_servers")[0].GetProperty("quorum_up").GetBoolean());
    }

    [Fact]
    public void HealthOf_GroupBlock_AppliesToEveryServiceOfTheGroup()
    {
        var group = new VirtualServerId(VirtualServerKind.Group, null, 0, 0, "web");
        var other = new ServiceKey(IpProtocol.Udp, IPAddress.Parse("198.51.100.101"), 53);
        var rs = new RealServerHealth(group, IPAddress.Parse("198.51.100.2"), 80, false, 1, false, StatusFixtures.Since, []);
        var r = StatusFixtures.Report() with { Health = [rs], VirtualServers = [new VirtualServerHealth(group, [StatusFixtures.Web, other], false, 0, false)] };

        Assert.Same(rs, r.HealthOf(StatusFixtures.Web, IPAddress.Parse("198.51.100.2"), 80));
        Assert.Same(rs, r.HealthOf(other, IPAddress.Parse("198.51.100.2"), 80));
        Assert.Null(r.HealthOf(StatusFixtures.Web, IPAddress.Parse("198.51.100.2"), 81));
        Assert.Equal(2, r.HealthByService.Count);
    }

    [Fact]
    public void With_NewHealth_DoesNotReuseTheOriginalsLookup()
    {
        var original = StatusFixtures.Report();
        Assert.NotNull(original.HealthOf(StatusFixtures.Web, IPAddress.Parse("198.51.100.2"), 80));

        var copy = original with { Health = [], VirtualServers = [] };

        Assert.Null(copy.HealthOf(StatusFixtures.Web, IPAddress.Parse("198.51.100.2"), 80));
    }

    [Fact]
    public void Json_EscapesNamesFromTheConfiguration()
    {
        var r = StatusFixtures.Report() with { Interface = "eth\"0\\" };
        using var doc = JsonDocument.Parse(StatusRenderer.Json(r));
        Assert.Equal("eth\"0\\", doc.RootElement.GetProperty("interface").GetString());
    }
}
