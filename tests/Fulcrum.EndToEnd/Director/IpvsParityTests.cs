using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Director;

/// <summary>Persistence, netmask grouping, thresholds and -S/-R, end to end through the lab's director.</summary>
public sealed class IpvsParityTests : IClassFixture<DirectorFixture>
{
    private static readonly string Vip80 = LabAddresses.Vip + ":80";
    private readonly DirectorFixture _f;

    public IpvsParityTests(DirectorFixture fixture)
    {
        _f = fixture;
        _f.ResetToSeed();
    }

    [Fact]
    public void Persistence_KeepsAClientOnOneRealServer_AcrossNewConnections()
    {
        _f.Director.Adm("-E", "-t", Vip80, "-s", "rr", "-p", "30").EnsureSuccess("ipvsadm -E -p 30");
        var bodies = Enumerable.Range(0, 6).Select(_ => ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim()).ToHashSet();
        Assert.Single(bodies);
        Assert.Contains("TCP  198.51.100.100:80 rr persistent 30\n", _f.Director.Adm("-ln").StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void PersistenceNetmask_GroupsTwoClientsOfOneSlash24_WhereSlash32KeepsThemApart()
    {
        const string Second = "203.0.113.11";
        _f.Lab.Exec("client", "ip", "addr", "replace", Second + "/24", "dev", "eth0").EnsureSuccess("second client address");
        try
        {
            _f.Director.Adm("-E", "-t", Vip80, "-s", "rr", "-p", "30").EnsureSuccess("ipvsadm -E -p");
            var a = ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim();
            var b = ClientTools.Curl(_f.Lab, _f.VipUrl, "client", "--interface", Second).EnsureSuccess("curl from .11").StdOut.Trim();
            Assert.NotEqual(a, b);   // /32: two clients, two templates, rr moves on

            _f.ResetToSeed();
            _f.Director.Adm("-E", "-t", Vip80, "-s", "rr", "-p", "30", "-M", "255.255.255.0").EnsureSuccess("ipvsadm -E -M");
            var c = ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim();
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(c, ClientTools.Curl(_f.Lab, _f.VipUrl, "client", "--interface", Second).EnsureSuccess("curl from .11").StdOut.Trim());
                Assert.Equal(c, ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim());
            }

            Assert.Contains("persistent 30 mask 255.255.255.0", _f.Director.Adm("-ln").StdOut, StringComparison.Ordinal);
        }
        finally
        {
            _f.Lab.Exec("client", "ip", "addr", "del", Second + "/24", "dev", "eth0");
        }
    }

    [Fact]
    public void UpperThreshold_StopsNewConnections_UntilTheRealServerDrainsBelowIt()
    {
        // FIN_WAIT after the client's FIN lasts tcpfin seconds: 1 s, so a closed connection leaves fast.
        _f.Director.Adm("--set", "900", "1", "300").EnsureSuccess("ipvsadm --set");
        try
        {
            _f.Director.Adm("-e", "-t", Vip80, "-r", LabAddresses.Rs1 + ":80", "-g", "-x", "1").EnsureSuccess("ipvsadm -e -x 1");
            var sockets = new List<Socket>();
            Socket? onRs1 = null;
            for (int i = 0; i < 3 && onRs1 is null; i++)
            {
                var s = KeepAliveClient.Open(_f.Lab);
                if (KeepAliveClient.Get(s) == "rs1")
                {
                    onRs1 = s;
                }
                else
                {
                    sockets.Add(s);
                }
            }

            foreach (var s in sockets)
            {
                s.Dispose();
            }

            Assert.NotNull(onRs1);
            var whileFull = Enumerable.Range(0, 6).Select(_ => ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim()).ToList();
            Assert.DoesNotContain("rs1", whileFull);

            onRs1.Shutdown(SocketShutdown.Both);
            onRs1.Dispose();
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (!_f.Director.Adm("-ln").StdOut.Contains("  -> 198.51.100.2:80              Route   1      0          0 ", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < deadline, "rs1's connection never expired: " + _f.Director.Adm("-ln").StdOut);
                Thread.Sleep(200);
            }

            var afterDrain = Enumerable.Range(0, 6).Select(_ => ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim()).ToList();
            Assert.Contains("rs1", afterDrain);
        }
        finally
        {
            _f.Director.Adm("--set", "900", "120", "300").EnsureSuccess("ipvsadm --set (restore)");
        }
    }

    [Fact]
    public void SaveThenRestoreIntoAFreshDaemon_GivesAnIdenticalSave()
    {
        var d = _f.Director;
        d.Adm("-A", "-t", LabAddresses.Vip + ":443", "-s", "wlc", "-p", "600", "-M", "255.255.255.0").EnsureSuccess("-A 443");
        d.Adm("-a", "-t", LabAddresses.Vip + ":443", "-r", LabAddresses.Rs1 + ":443", "-g", "-w", "5", "-x", "100", "-y", "50").EnsureSuccess("-a 443");
        d.Adm("-a", "-t", LabAddresses.Vip + ":443", "-r", LabAddresses.Rs2 + ":443", "-g", "-w", "0").EnsureSuccess("-a 443");
        d.Adm("-A", "-u", LabAddresses.Vip + ":53", "-s", "sh", "-b", "sh-port", "-o").EnsureSuccess("-A 53");
        d.Adm("-a", "-u", LabAddresses.Vip + ":53", "-r", LabAddresses.Rs3 + ":53", "-g", "-w", "3").EnsureSuccess("-a 53");
        d.Adm("-A", "-t", LabAddresses.Vip + ":8080", "-s", "mh", "-b", "mh-fallback,mh-port").EnsureSuccess("-A 8080");
        d.Adm("-a", "-t", LabAddresses.Vip + ":8080", "-r", LabAddresses.Rs1 + ":8080", "-g").EnsureSuccess("-a 8080");
        var saved = d.Adm("-Sn").EnsureSuccess("ipvsadm -Sn").StdOut;
        Assert.Contains("-A -u 198.51.100.100:53 -s sh -o -b sh-port", saved, StringComparison.Ordinal);

        var fresh = LabDirector.Start(_f.Lab, "lb2");
        try
        {
            fresh.AdmWithInput(saved, "-R").EnsureSuccess("ipvsadm -R");
            Assert.Equal(saved, fresh.Adm("-Sn").EnsureSuccess("ipvsadm -Sn").StdOut);
        }
        finally
        {
            fresh.Process.Stop();
        }
    }
}
