using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;

namespace Fulcrum.EndToEnd.Director;

/// <summary>
/// keepalived.conf's HTTP_GET checks in the running daemon: a real server whose HTTP server dies
/// leaves the pool within delay_loop + retries, no client request reaches it, and it returns.
/// </summary>
public sealed class HealthCheckDirectorTests : IClassFixture<LabFixture>
{
    private const string Rs2Line = "  -> 198.51.100.3:80";
    private readonly LabCluster _lab;
    private readonly string _url = $"http://{LabAddresses.Vip}/";

    public HealthCheckDirectorTests(LabFixture fixture) => _lab = fixture.Lab;

    [Fact]
    public void HttpGetChecks_TakeADeadRealServerOut_NoClientReachesIt_AndItReturns()
    {
        var conf = Path.Combine(_lab.StateDirectory, "keepalived-health.conf");
        const string Check = "HTTP_GET { url { path / } connect_timeout 1 retry 1 delay_before_retry 1 }";
        File.WriteAllText(conf, $$"""
            virtual_server 198.51.100.100 80 {
                delay_loop 1
                lb_algo rr
                lb_kind DR
                protocol TCP
                real_server 198.51.100.2 80 { {{Check}} }
                real_server 198.51.100.3 80 { {{Check}} }
                real_server 198.51.100.4 80 { {{Check}} }
            }
            """);
        var director = LabDirector.Start(_lab, "lb1", "-f", conf);
        _lab.AddVip("lb1");
        try
        {
            Wait.For(() => director.Adm("-ln").StdOut.Contains(Rs2Line, StringComparison.Ordinal), "rs2 to pass its first check", 15);

            var nginx = _lab.TrackedProcesses().Last(p => p.Host == "rs2" && p.Name == "nginx" && !p.HasExited);
            nginx.Signal("KILL");
            Assert.True(nginx.WaitForExit(TimeSpan.FromSeconds(5)));

            // delay_loop 1 s + one retry after 1 s + connect_timeout 1 s: out within ~3 s; allow a loaded machine.
            Wait.For(() => !director.Adm("-ln").StdOut.Contains(Rs2Line, StringComparison.Ordinal), "rs2 to leave the pool", 12);
            var whileDown = Enumerable.Range(0, 9).Select(_ => ClientTools.CurlBody(_lab, _url).Trim()).ToList();
            Assert.All(whileDown, b => Assert.Contains(b, new[] { "rs1", "rs3" }));

            string dir = Path.Combine(_lab.StateDirectory, "rs2");
            _lab.StartProcess("rs2", "nginx", "-e", Path.Combine(dir, "error.log"), "-p", dir, "-c", Path.Combine(dir, "nginx.conf"));
            Wait.For(() => director.Adm("-ln").StdOut.Contains(Rs2Line, StringComparison.Ordinal), "rs2 to return", 12);
            var afterReturn = Enumerable.Range(0, 6).Select(_ => ClientTools.CurlBody(_lab, _url).Trim()).ToList();
            Assert.Contains("rs2", afterReturn);
        }
        finally
        {
            director.Process.Stop();
        }
    }
}
