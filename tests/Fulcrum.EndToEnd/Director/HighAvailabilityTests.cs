using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;

namespace Fulcrum.EndToEnd.Director;

/// <summary>
/// The seed's two directors, each `fulcrum run -f keepalived.conf` with the same virtual_server and a
/// VRRP instance: lb1 (priority 150) holds the VIP and serves; a clean stop hands the VIP to lb2
/// (priority 0 advert), which serves; lb1 returns and preempts.
/// </summary>
public sealed class HighAvailabilityTests : IClassFixture<LabFixture>
{
    private readonly LabCluster _lab;
    private readonly string _url = $"http://{LabAddresses.Vip}/";

    public HighAvailabilityTests(LabFixture fixture) => _lab = fixture.Lab;

    [Fact]
    public void TwoDirectors_CleanStopOfMaster_BackupTakesVipAndServes_MasterReturnsAndPreempts()
    {
        var lb1Conf = WriteConfig("lb1", priority: 150);
        var lb2Conf = WriteConfig("lb2", priority: 100);
        var lb2 = LabDirector.Start(_lab, "lb2", "-f", lb2Conf);
        var lb1 = LabDirector.Start(_lab, "lb1", "-f", lb1Conf);
        try
        {
            Wait.For(() => HoldsVip("lb1") && !HoldsVip("lb2"), "lb1 to become MASTER and hold the VIP alone", 15);
            Assert.Contains(ClientTools.CurlBody(_lab, _url).Trim(), new[] { "rs1", "rs2", "rs3" });
            Assert.Contains("MASTER", lb1.Status().StdOut, StringComparison.Ordinal);

            lb1.Process.Signal("TERM");
            Assert.True(lb1.Process.WaitForExit(TimeSpan.FromSeconds(10)));
            Wait.For(() => HoldsVip("lb2") && !HoldsVip("lb1"), "lb2 to take the VIP after lb1's priority-0 advert", 5);
            Wait.For(() => ClientTools.Curl(_lab, _url).Succeeded, "the client to be served through lb2", 10);
            var stats = lb2.Adm("-ln", "--stats", "--exact").EnsureSuccess("lb2 --stats").StdOut;
            var line = stats.Split('\n').First(l => l.StartsWith("TCP  198.51.100.100:80", StringComparison.Ordinal));
            Assert.NotEqual("0", line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2]);   // lb2 counted connections

            lb1 = LabDirector.Start(_lab, "lb1", "-f", lb1Conf);
            Wait.For(() => HoldsVip("lb1") && !HoldsVip("lb2"), "lb1 to preempt", 15);
            Wait.For(() => ClientTools.Curl(_lab, _url).Succeeded, "the client to be served through lb1 again", 10);
        }
        finally
        {
            lb1.Process.Stop();
            lb2.Process.Stop();
        }
    }

    private bool HoldsVip(string host) =>
        _lab.Exec(host, "ip", "-4", "-o", "addr", "show", "dev", "eth0").StdOut.Contains(LabAddresses.Vip + "/32", StringComparison.Ordinal);

    private string WriteConfig(string host, int priority)
    {
        var path = Path.Combine(_lab.StateDirectory, $"keepalived-{host}.conf");
        File.WriteAllText(path, $$"""
            vrrp_instance VI_1 {
                state BACKUP
                interface eth0
                virtual_router_id 51
                priority {{priority}}
                advert_int 1
                virtual_ipaddress {
                    198.51.100.100/32 dev eth0
                }
            }
            virtual_server 198.51.100.100 80 {
                lb_algo rr
                lb_kind DR
                protocol TCP
                real_server 198.51.100.2 80 { weight 1 }
                real_server 198.51.100.3 80 { weight 1 }
                real_server 198.51.100.4 80 { weight 1 }
            }
            """);
        return path;
    }
}
