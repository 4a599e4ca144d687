using System.Text.Json;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.RealServerSetup;

namespace Fulcrum.EndToEnd.Director;

/// <summary>
/// A director run from keepalived.conf (a VRRP instance, TCP_CHECKs, one real server whose port is
/// closed): the metrics page and `fulcrum status` show the instance MASTER and each real server's health.
/// </summary>
public sealed class KeepalivedMetricsTests : IClassFixture<LabFixture>
{
    private const string Url = "http://127.0.0.1:9138/metrics";
    private const string Instance = "instance=\"VI_1\",interface=\"eth0\",vrid=\"51\"";
    private readonly LabCluster _lab;

    public KeepalivedMetricsTests(LabFixture fixture) => _lab = fixture.Lab;

    [Fact]
    public void Scrape_KeepalivedConfig_ShowsVrrpMasterAndHealthPerRealServer()
    {
        var conf = Path.Combine(_lab.StateDirectory, "keepalived-mt.conf");
        File.WriteAllText(conf, """
            vrrp_instance VI_1 {
                state BACKUP
                interface eth0
                virtual_router_id 51
                priority 150
                advert_int 1
                virtual_ipaddress {
                    198.51.100.100/32 dev eth0
                }
            }
            virtual_server 198.51.100.100 80 {
                delay_loop 1
                lb_algo rr
                lb_kind DR
                protocol TCP
                real_server 198.51.100.2 80 {
                    weight 1
                    TCP_CHECK {
                        connect_timeout 1
                    }
                }
                real_server 198.51.100.4 81 {
                    weight 1
                    TCP_CHECK {
                        connect_timeout 1
                    }
                }
            }
            """);
        var lb1 = LabDirector.Start(_lab, "lb1", "-f", conf);
        try
        {
            const string Up = "local_address=\"198.51.100.100\",local_port=\"80\",remote_address=\"198.51.100.2\",remote_port=\"80\",proto=\"TCP\",local_mark=\"\"";
            const string Down = "local_address=\"198.51.100.100\",local_port=\"80\",remote_address=\"198.51.100.4\",remote_port=\"81\",proto=\"TCP\",local_mark=\"\"";
            string page = "";
            Wait.For(() =>
            {
                page = ClientTools.Curl(_lab, Url, "lb1", "--fail").EnsureSuccess("scrape lb1").StdOut;
                return page.Contains($"\nfulcrum_vrrp_state{{{Instance},state=\"master\"}} 1\n", StringComparison.Ordinal)
                    && page.Contains($"\nfulcrum_healthcheck_up{{{Down}}} 0\n", StringComparison.Ordinal);
            }, "lb1 MASTER and 198.51.100.4:81 failed out", 20);

            Assert.Contains($"\nfulcrum_healthcheck_up{{{Up}}} 1\n", page, StringComparison.Ordinal);
            Assert.Contains($"\nfulcrum_healthcheck_checker_up{{{Down},checker=\"TCP_CHECK\",index=\"0\"}} 0\n", page, StringComparison.Ordinal);
            Assert.Contains($"\nfulcrum_vrrp_state{{{Instance},state=\"backup\"}} 0\n", page, StringComparison.Ordinal);
            Assert.Contains($"\nfulcrum_vrrp_priority{{{Instance}}} 150\n", page, StringComparison.Ordinal);
            var transitions = page.Split('\n').Single(l => l.StartsWith($"fulcrum_vrrp_transitions_total{{{Instance}}} ", StringComparison.Ordinal));
            Assert.True(long.Parse(transitions.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 2, transitions);   // INIT → BACKUP → MASTER
            // The failed server left the IPVS table, as keepalived removes it: node_exporter's view loses it.
            Assert.Contains($"\nnode_ipvs_backend_weight{{{Up}}} 1\n", page, StringComparison.Ordinal);
            Assert.DoesNotContain($"node_ipvs_backend_weight{{{Down}}}", page, StringComparison.Ordinal);

            var check = ExternalCommand.Run(MetricsTests.Promtool(), ["check", "metrics"], page);
            Assert.True(check.ExitCode == 0, $"promtool check metrics failed ({check.ExitCode}): {check.StdOut}{check.StdErr}");

            using var doc = JsonDocument.Parse(lb1.Status(json: true).EnsureSuccess("status --json").StdOut);
            var vrrp = Assert.Single(doc.RootElement.GetProperty("vrrp").EnumerateArray());
            Assert.Equal("MASTER", vrrp.GetProperty("state").GetString());
            var health = doc.RootElement.GetProperty("health").EnumerateArray().ToDictionary(h => h.GetProperty("port").GetInt32(), h => h.GetProperty("up").GetBoolean());
            Assert.True(health[80]);
            Assert.False(health[81]);
            var rs = Assert.Single(doc.RootElement.GetProperty("services")[0].GetProperty("real_servers").EnumerateArray());
            Assert.Equal("up", rs.GetProperty("health").GetString());

            var text = lb1.Status().EnsureSuccess("status").StdOut;
            Assert.Contains("    -> 198.51.100.2:80 Route weight 1 active ", text, StringComparison.Ordinal);
            Assert.Contains(" UP  conns ", text, StringComparison.Ordinal);
            Assert.Contains("198.51.100.100:80 -> 198.51.100.4:81 DOWN since ", text, StringComparison.Ordinal);
        }
        finally
        {
            lb1.Process.Stop();
        }
    }
}
