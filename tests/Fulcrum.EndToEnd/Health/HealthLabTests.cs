using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Fulcrum.Balancing;
using Fulcrum.Config;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Health;
using Fulcrum.Lab;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Health;

/// <summary>
/// The checkers run from lb1's namespace against rs1..rs3's nginx; rs2's nginx is killed and
/// restarted, and the monitor takes rs2 out of an in-memory IPVS table and puts it back.
/// </summary>
public sealed class HealthLabTests : IClassFixture<LabFixture>
{
    private static readonly ServiceKey Vip = new(IpProtocol.Tcp, LabAddresses.Vip, 80);
    private static readonly IPAddress Rs2 = IPAddress.Parse("198.51.100.3");
    private readonly LabCluster _lab;

    public HealthLabTests(LabFixture fixture) => _lab = fixture.Lab;

    // nginx answers "<host>\n": genhash's digest of that body.
    private static string Digest(string host)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        md5.AppendData(Encoding.ASCII.GetBytes(host + "\n"));
        return Convert.ToHexStringLower(md5.GetHashAndReset());
    }

    private static string HttpGet(string host) =>
        $"HTTP_GET {{\n url {{\n path /\n digest {Digest(host)}\n status_code 200\n }}\n connect_timeout 1\n retry 1\n delay_before_retry 1\n }}";

    private const string TcpCheck = "TCP_CHECK {\n connect_timeout 1\n retry 1\n delay_before_retry 1\n }";

    public static TheoryData<string, bool> Checks => new()
    {
        { "HTTP_GET", false },
        { "TCP_CHECK", true },
    };

    [Theory]
    [MemberData(nameof(Checks))]
    public async Task NginxOnRs2Killed_LeavesPool_RestartedReturns(string kind, bool inhibit)
    {
        Root.Require();
        var servers = new StringBuilder();
        foreach (var host in LabCluster.RealServerHosts)
        {
            servers.Append($"real_server {LabAddresses.Of(host)} 80 {{\n weight 1\n {(inhibit ? "inhibit_on_failure" : "")}\n {(kind == "HTTP_GET" ? HttpGet(host) : TcpCheck)}\n }}\n");
        }

        var parsed = KeepalivedConfig.Parse($"virtual_server {LabAddresses.Vip} 80 {{\n delay_loop 1\n lb_algo rr\n lb_kind DR\n {servers} }}\n", "lab.conf");
        Assert.True(parsed.Success, string.Join("\n", parsed.Diagnostics));

        string ns = _lab.NamespaceOf("lb1");
        var table = new IpvsTable(TimeProvider.System);
        await using var monitor = new HealthMonitor(parsed.Configuration, table, options: new HealthMonitorOptions
        {
            Checkers = new CheckerEnvironment
            {
                // A socket stays in the namespace it was created in, whichever thread uses it later.
                SocketFactory = (family, type, protocol) => NetworkNamespace.RunIn(ns, () => new Socket(family, type, protocol)),
            },
        });
        monitor.Start();

        bool Rs2Health(bool up) => monitor.GetRealServers().Single(r => r.Address.Equals(Rs2)).IsUp == up;
        int? Rs2Weight() => table.GetService(Vip)?.Dests.SingleOrDefault(d => d.Spec.Address.Equals(Rs2))?.Spec.Weight;

        // Every checker has run and passed (rs1..rs3 really answer from lb1's side of the bridge).
        await WaitFor(() => monitor.GetRealServers().All(r => r.IsUp && r.Checkers.All(c => c.LastRun is not null)), TimeSpan.FromSeconds(10), "first checks pass");
        Assert.Equal(3, table.GetService(Vip)!.Dests.Count);

        var nginx = _lab.TrackedProcesses().Last(p => p.Host == "rs2" && p.Name == "nginx" && !p.HasExited);
        nginx.Signal("KILL");
        Assert.True(nginx.WaitForExit(TimeSpan.FromSeconds(5)));
        var sw = Stopwatch.StartNew();

        // delay_loop 1 + one retry 1 s later (+ the check itself): about 2 s, allow for a loaded machine.
        await WaitFor(() => inhibit ? Rs2Weight() == 0 : Rs2Weight() is null, TimeSpan.FromSeconds(10), "rs2 leaves the pool");
        var down = sw.Elapsed;
        Assert.True(Rs2Health(false));
        Assert.InRange(down, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(8));
        Assert.Equal(inhibit ? 3 : 2, table.GetService(Vip)!.Dests.Count);

        // The lab's own nginx config for rs2, under its state directory.
        string dir = Path.Combine(_lab.StateDirectory, "rs2");
        _lab.StartProcess("rs2", "nginx", "-e", Path.Combine(dir, "error.log"), "-p", dir, "-c", Path.Combine(dir, "nginx.conf"));
        await WaitFor(() => Rs2Weight() == 1, TimeSpan.FromSeconds(10), "rs2 back at weight 1");
        Assert.True(Rs2Health(true));
        Assert.All(table.GetService(Vip)!.Dests, d => Assert.Equal(1, d.Spec.Weight));
    }

    private static async Task WaitFor(Func<bool> condition, TimeSpan max, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.Elapsed < max, $"timed out after {max.TotalSeconds} s waiting until {what}");
            await Task.Delay(50);
        }
    }
}
