using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Director;

/// <summary>A lab with Fulcrum in lb1 started with a mark rule covering the VIP's ports 80 and 8080.</summary>
public sealed class FwMarkFixture : IAsyncLifetime
{
    public const string Rules = "ip daddr 198.51.100.100 tcp dport { 80, 8080 } meta mark set 1\n";

    private readonly LabFixture _lab = new();
    private string? _rulesFile;

    public LabCluster Lab => _lab.Lab;

    public LabDirector Director { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await _lab.InitializeAsync();
        _rulesFile = Path.Combine(Lab.StateDirectory, "fwmark.rules");
        File.WriteAllText(_rulesFile, Rules);
        Director = LabDirector.Start(Lab, "lb1", "--fwmark-rules", _rulesFile);
        Lab.AddVip("lb1");
    }

    /// <summary>FWM 1 over rs1..rs3 (DR), rr, with the given ipvsadm service options.</summary>
    public void Configure(params string[] serviceOptions)
    {
        Director.Adm("-C").EnsureSuccess("ipvsadm -C");
        Director.Adm(["-A", "-f", "1", "-s", "rr", .. serviceOptions]).EnsureSuccess("ipvsadm -A -f 1");
        foreach (var rs in LabAddresses.RealServers)
        {
            Director.Adm("-a", "-f", "1", "-r", rs.ToString(), "-g").EnsureSuccess("ipvsadm -a -f 1");
        }
    }

    public Task DisposeAsync() => _lab.DisposeAsync();
}

/// <summary>
/// Fwmark services end to end (issue 5): the director's mark rules stand in for the operator's nftables
/// marks, which its AF_PACKET data plane cannot see (Balancing/README.md, "Firewall marks").
/// </summary>
public sealed class FwMarkServiceTests : IClassFixture<FwMarkFixture>
{
    private static readonly string Url80 = $"http://{LabAddresses.Vip}/";
    private static readonly string Url8080 = $"http://{LabAddresses.Vip}:8080/";
    private readonly FwMarkFixture _f;

    public FwMarkServiceTests(FwMarkFixture fixture) => _f = fixture;

    [Fact]
    public void Persistent_OneClientHitsTheSameRealServerOnBothPorts()
    {
        _f.Configure("-p", "30");
        var first = ClientTools.CurlBody(_f.Lab, Url80).Trim();
        Assert.StartsWith("rs", first, StringComparison.Ordinal);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(first, ClientTools.CurlBody(_f.Lab, Url8080).Trim());
            Assert.Equal(first, ClientTools.CurlBody(_f.Lab, Url80).Trim());
        }

        string listing = _f.Director.Adm("-ln").EnsureSuccess("ipvsadm -ln").StdOut;
        Assert.Contains("FWM  1 rr persistent 30\n", listing, StringComparison.Ordinal);
        // One template for the client: <IP, client, 0, the mark, 0> as /proc/net/ip_vs_conn shows it.
        string conns = _f.Director.Adm("-Lcn").EnsureSuccess("ipvsadm -Lcn").StdOut;
        Assert.Single(conns.Split('\n'), l => l.StartsWith("IP ", StringComparison.Ordinal) && l.Contains(" 203.0.113.10:0 ", StringComparison.Ordinal) && l.Contains(" 0.0.0.1:0 ", StringComparison.Ordinal));
    }

    [Fact]
    public void NotPersistent_BothPortsSpreadOverTheRealServers()
    {
        _f.Configure();
        var bodies = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            bodies.Add(ClientTools.CurlBody(_f.Lab, Url80).Trim());
            bodies.Add(ClientTools.CurlBody(_f.Lab, Url8080).Trim());
        }

        // rr over three real servers: six connections, each real server twice, whatever the port.
        Assert.Equal(["rs1", "rs1", "rs2", "rs2", "rs3", "rs3"], bodies.Order(StringComparer.Ordinal));
        Assert.Contains("FWM  1 rr\n", _f.Director.Adm("-ln").StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_BrokenRulesFile_RefusesToStartWithFileLineColumn()
    {
        var file = Path.Combine(_f.Lab.StateDirectory, "broken.rules");
        File.WriteAllText(file, "# ok\nip daddr 198.51.100.100 tcp dport 80 meta mark set 0\n");
        var r = Fulcrum.RealServerSetup.ExternalCommand.Run(LabDirector.FulcrumPath, ["run", "-i", "eth0", "--control", file + ".sock", "--fwmark-rules", file]);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"{file}:2:52: error: '0' is not a mark (1..4294967295)\n", r.StdErr);
    }

    [Fact]
    public void ClaimRules_CoverTheMarkedPorts_AndNoOther()
    {
        _f.Configure();
        // The rules follow the table's changes a moment later (coalesced nft transactions).
        string table = "";
        Wait.For(() =>
        {
            table = _f.Lab.Exec("lb1", "nft", "list", "table", "netdev", ServiceClaimRules.TableName("eth0")).EnsureSuccess("nft list").StdOut;
            return table.Contains("@marked4 drop", StringComparison.Ordinal);
        }, "the claim rules to include the marked destinations");
        Assert.Matches(@"198\.51\.100\.100 \. tcp \. 80[,\s]", table);
        Assert.Matches(@"198\.51\.100\.100 \. tcp \. 8080[,\s]", table);

        // Port 443 carries no mark: the director's own stack answers it (a RST: curl's "connection refused").
        var refused = ClientTools.Curl(_f.Lab, $"http://{LabAddresses.Vip}:443/");
        Assert.Equal(7, refused.ExitCode);
    }
}
