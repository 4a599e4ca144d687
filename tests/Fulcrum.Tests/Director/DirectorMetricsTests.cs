using Fulcrum.Director;
using Fulcrum.Metrics;

namespace Fulcrum.Tests.Director;

public class DirectorMetricsTests
{
    private static string Page(out MetricsWriter writer)
    {
        writer = new MetricsWriter();
        DirectorMetrics.Write(writer, StatusFixtures.Report());
        return writer.ToString();
    }

    [Fact]
    public void Write_StartsWithNodeExportersIpvsFamiliesInItsOrderAndHelp()
    {
        var page = Page(out var writer);

        Assert.Equal(
            [
                "node_ipvs_connections_total", "node_ipvs_incoming_packets_total", "node_ipvs_outgoing_packets_total",
                "node_ipvs_incoming_bytes_total", "node_ipvs_outgoing_bytes_total", "node_ipvs_backend_connections_active",
                "node_ipvs_backend_connections_inactive", "node_ipvs_backend_weight",
            ],
            writer.Families.Take(8));
        Assert.Contains("# HELP node_ipvs_connections_total The total number of connections made.\n# TYPE node_ipvs_connections_total counter\n", page, StringComparison.Ordinal);
        Assert.Contains("# HELP node_ipvs_incoming_bytes_total The total amount of incoming data.\n", page, StringComparison.Ordinal);
        Assert.Contains("# HELP node_ipvs_backend_connections_active The current active connections by local and remote address.\n# TYPE node_ipvs_backend_connections_active gauge\n", page, StringComparison.Ordinal);
        Assert.Contains("# HELP node_ipvs_backend_weight The current backend weight by local and remote address.\n", page, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_NodeTotals_AreTheSumOfTheServices()
    {
        var page = Page(out _);

        Assert.Contains("\nnode_ipvs_connections_total 22\n", page, StringComparison.Ordinal);
        Assert.Contains("\nnode_ipvs_incoming_packets_total 212\n", page, StringComparison.Ordinal);
        Assert.Contains("\nnode_ipvs_incoming_bytes_total 12720\n", page, StringComparison.Ordinal);
        Assert.Contains("\nnode_ipvs_outgoing_packets_total 0\n", page, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_Backend_HasNodeExportersLabelsInItsOrder()
    {
        var page = Page(out _);

        Assert.Contains(
            "\nnode_ipvs_backend_weight{local_address=\"198.51.100.100\",local_port=\"80\",remote_address=\"198.51.100.3\",remote_port=\"80\",proto=\"TCP\",local_mark=\"\"} 2\n",
            page, StringComparison.Ordinal);
        Assert.Contains(
            "\nnode_ipvs_backend_connections_active{local_address=\"198.51.100.100\",local_port=\"80\",remote_address=\"198.51.100.2\",remote_port=\"80\",proto=\"TCP\",local_mark=\"\"} 3\n",
            page, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_FwMarkService_LabelsAsProcNetIpVsShowsIt()
    {
        var page = Page(out _);

        Assert.Contains(
            "\nnode_ipvs_backend_weight{local_address=\"\",local_port=\"0\",remote_address=\"198.51.100.4\",remote_port=\"0\",proto=\"FWM\",local_mark=\"00000001\"} 5\n",
            page, StringComparison.Ordinal);
        Assert.Contains(
            "\nfulcrum_ipvs_service_connections_total{local_address=\"\",local_port=\"0\",proto=\"FWM\",local_mark=\"00000001\"} 1\n",
            page, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_ServiceAndBackendCounters_MatchTheListingsStats()
    {
        var page = Page(out _);

        Assert.Contains("\nfulcrum_ipvs_service_incoming_bytes_total{local_address=\"198.51.100.100\",local_port=\"80\",proto=\"TCP\",local_mark=\"\"} 12600\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_ipvs_backend_connections_total{local_address=\"198.51.100.100\",local_port=\"80\",remote_address=\"198.51.100.3\",remote_port=\"80\",proto=\"TCP\",local_mark=\"\"} 11\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_ipvs_backend_connections_persistent{local_address=\"\",local_port=\"0\",remote_address=\"198.51.100.4\",remote_port=\"0\",proto=\"FWM\",local_mark=\"00000001\"} 1\n", page, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_VrrpState_OneSeriesPerStateWithOneForTheCurrent()
    {
        var page = Page(out _);

        Assert.Contains("\nfulcrum_vrrp_state{instance=\"VI_1\",interface=\"eth0\",vrid=\"51\",state=\"master\"} 1\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_vrrp_state{instance=\"VI_1\",interface=\"eth0\",vrid=\"51\",state=\"backup\"} 0\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_vrrp_state{instance=\"VI_1\",interface=\"eth0\",vrid=\"51\",state=\"stop\"} 0\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_vrrp_transitions_total{instance=\"VI_1\",interface=\"eth0\",vrid=\"51\"} 2\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_vrrp_priority{instance=\"VI_1\",interface=\"eth0\",vrid=\"51\"} 150\n", page, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_Health_ShowsDownServersAbsentFromTheTableWithEveryChecker()
    {
        var page = Page(out _);

        const string Rs9 = "local_address=\"198.51.100.100\",local_port=\"80\",remote_address=\"198.51.100.9\",remote_port=\"80\",proto=\"TCP\",local_mark=\"\"";
        Assert.Contains("\nfulcrum_healthcheck_up{" + Rs9 + "} 0\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_healthcheck_last_change_timestamp_seconds{" + Rs9 + "} 1795701630\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_healthcheck_checker_up{" + Rs9 + ",checker=\"TCP_CHECK\",index=\"0\"} 0\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_healthcheck_checker_up{" + Rs9 + ",checker=\"TCP_CHECK\",index=\"1\"} 1\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_healthcheck_quorum_up{virtual_server=\"198.51.100.100:80\"} 1\n", page, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_DataPlane_PerWorkerWithDropReasonsInSnakeCase()
    {
        var page = Page(out _);

        Assert.Contains("\nfulcrum_dataplane_rx_frames_total{worker=\"0\"} 1000\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_dataplane_rx_frames_total{worker=\"1\"} 500\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_dataplane_drops_total{worker=\"0\",reason=\"not_syn\"} 5\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_dataplane_drops_total{worker=\"0\",reason=\"no_real_server\"} 2\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_dataplane_drops_total{worker=\"1\",reason=\"tx_full\"} 0\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_ring_kernel_drops_total{worker=\"0\"} 7\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_connections{worker=\"1\"} 6\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_connection_table_capacity{worker=\"0\"} 1048576\n", page, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_EveryLine_IsCommentOrSampleOfTheFamilyAnnouncedAboveIt()
    {
        var page = Page(out _);
        string? family = null;
        var seen = new HashSet<string>();
        foreach (var line in page.TrimEnd('\n').Split('\n'))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                family = line.Split(' ')[2];
                Assert.True(seen.Add(family), $"{family} twice");
                continue;
            }

            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                Assert.Equal(family, line.Split(' ')[2]);
                continue;
            }

            var name = line.Split('{', ' ')[0];
            Assert.Equal(family, name);
        }

        Assert.True(seen.Count > 30, $"only {seen.Count} families");
    }

    [Fact]
    public void Write_Defense_ShowsFreeEntriesModesAndDrops()
    {
        var defense = new Fulcrum.Balancing.IpvsDefense(new Fulcrum.Balancing.DefenseSettings(), 2 << 20);
        var w = new MetricsWriter();
        DirectorMetrics.Write(w, StatusFixtures.Report() with { Defense = defense });
        var page = w.ToString();

        Assert.Contains("\nfulcrum_defense_connection_entries_available " + defense.Available + "\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_defense_mode{defense=\"secure_tcp\"} 0\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_defense_active{defense=\"drop_entry\"} 0\n", page, StringComparison.Ordinal);
        Assert.Contains("\nfulcrum_defense_dropped_entries_total{worker=\"1\"} 0\n", page, StringComparison.Ordinal);
        Assert.DoesNotContain("fulcrum_defense_", Page(out _), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("NoRealServer", "no_real_server")]
    [InlineData("TooShort", "too_short")]
    [InlineData("BadIhl", "bad_ihl")]
    public void SnakeCase_PascalName_IsLowerWithUnderscores(string pascal, string snake) =>
        Assert.Equal(snake, DirectorMetrics.SnakeCase(pascal));
}
