using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.RealServerSetup;

namespace Fulcrum.EndToEnd.Director;

/// <summary>
/// `fulcrum run -f keepalived.conf`: the file's virtual servers are served; SIGHUP applies a changed
/// file in place; a broken file is rejected with file:line:column and traffic keeps flowing.
/// </summary>
public sealed class KeepalivedConfigTests : IClassFixture<LabFixture>
{
    private static readonly string[] Names = ["rs1", "rs2", "rs3"];
    private readonly LabCluster _lab;
    private readonly string _url = $"http://{LabAddresses.Vip}/";

    public KeepalivedConfigTests(LabFixture fixture) => _lab = fixture.Lab;

    [Fact]
    public void RunWithConfig_ServesItsVirtualServers_ReloadsOnSighup_AndKeepsRunningConfigOnBrokenFile()
    {
        var conf = Path.Combine(_lab.StateDirectory, "keepalived.conf");
        File.WriteAllText(conf, Config(rs2Weight: 1));
        var director = LabDirector.Start(_lab, "lb1", "-f", conf);
        _lab.AddVip("lb1");

        Assert.Equal(Names.ToHashSet(), Enumerable.Range(0, 3).Select(_ => ClientTools.CurlBody(_lab, _url).Trim()).ToHashSet());
        Assert.Contains("TCP  198.51.100.100:80 rr\n", director.Adm("-ln").StdOut, StringComparison.Ordinal);

        // Quiesce rs2 by editing the file: applied in place on SIGHUP.
        File.WriteAllText(conf, Config(rs2Weight: 0));
        director.Process.Signal("HUP");
        Wait.For(() => Count(director.Process.ReadLog(), "configuration applied") == 2, "the reload to be applied");
        var bodies = Enumerable.Range(0, 6).Select(_ => ClientTools.CurlBody(_lab, _url).Trim()).ToList();
        Assert.DoesNotContain("rs2", bodies);
        var listing = director.Adm("-ln").StdOut;
        Assert.Contains("  -> 198.51.100.3:80              Route   0", listing, StringComparison.Ordinal);

        // A broken file: rejected with its position, the running configuration stays.
        File.WriteAllText(conf, Config(rs2Weight: 1).Replace("lb_algo rr", "lb_algo rr\n    delay_loop -5", StringComparison.Ordinal) + "}\n");
        var check = ExternalCommand.Run(LabDirector.FulcrumPath, ["check-config", "-f", conf]);
        Assert.Equal(1, check.ExitCode);
        Assert.Matches($@"{System.Text.RegularExpressions.Regex.Escape(conf)}:\d+:\d+: ", check.StdErr);

        director.Process.Signal("HUP");
        Wait.For(() => director.Process.ReadLog().Contains("rejected", StringComparison.Ordinal), "the reload to be rejected");
        Assert.Equal(listing, director.Adm("-ln").StdOut);
        Assert.Contains(ClientTools.CurlBody(_lab, _url).Trim(), new[] { "rs1", "rs3" });
        director.Process.Stop();
    }

    private static string Config(int rs2Weight) => $$"""
        ! The seed's director, as keepalived.conf.
        virtual_server 198.51.100.100 80 {
            lb_algo rr
            lb_kind DR
            protocol TCP
            real_server 198.51.100.2 80 {
                weight 1
            }
            real_server 198.51.100.3 80 {
                weight {{rs2Weight}}
            }
            real_server 198.51.100.4 80 {
                weight 1
            }
        }
        """;

    private static int Count(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + 1, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }
}
