using System.Text.Json;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;

namespace Fulcrum.EndToEnd.Bpf;

/// <summary>A lab with Fulcrum in lb1 on the default driver (the kernel tier) and no service yet.</summary>
public sealed class KernelSchedulersFixture : IAsyncLifetime
{
    private readonly LabFixture _lab = new();
    private LabDirector? _director;

    public LabCluster Lab => _lab.Lab;

    public LabDirector Director => _director ?? throw new InvalidOperationException("the director is not running");

    public async Task InitializeAsync()
    {
        await _lab.InitializeAsync();
        _director = LabDirector.Start(Lab, "lb1");
        Lab.AddVip("lb1");
    }

    public Task DisposeAsync() => _lab.DisposeAsync();
}

/// <summary>
/// Schedulers whose SYNs the kernel tier schedules beyond rr. wlc, ipvsadm's default scheduler: the program reads the real servers'
/// ActiveConn/InActConn that it and the workers share, so connections held open on two real servers send every new
/// one to the third, also when those two were opened under another scheduler before an `-E` switched to wlc.
/// </summary>
[Collection("KernelTier")]
public sealed class KernelSchedulersTests : IClassFixture<KernelSchedulersFixture>
{
    private static readonly string[] Names = ["rs1", "rs2", "rs3"];
    private readonly KernelSchedulersFixture _f;

    public KernelSchedulersTests(KernelSchedulersFixture fixture) => _f = fixture;

    [Fact]
    public void Wlc_TwoRealServersHoldingConnections_EveryNewOneGoesToTheThird_ScheduledByTheKernel()
    {
        var vip = Service("rr");

        // Two keep-alive connections under rr: on two different real servers, active while they stay open.
        using var first = KeepAliveClient.Open(_f.Lab);
        using var second = KeepAliveClient.Open(_f.Lab);
        var busy = new[] { KeepAliveClient.Get(first), KeepAliveClient.Get(second) };
        Assert.Equal(2, busy.Distinct().Count());
        var idle = Assert.Single(Names.Except(busy));

        _f.Director.Adm("-E", "-t", vip, "-s", "wlc").EnsureSuccess("ipvsadm -E -s wlc");
        // The program schedules the service once its table is published (on the change, and every second after).
        Wait.For(() => _f.Director.Process.ReadLog().Contains("kernel tier schedules TCP " + vip + " itself (wlc", StringComparison.Ordinal),
            "the wlc service to be published to the kernel tier");

        long before = KernelScheduled();
        for (int i = 0; i < 20; i++)
        {
            // Each closed connection lingers in FIN_WAIT (InActConn 1 each) against the busy ones' ActiveConn (256 each).
            Assert.Equal(idle, ClientTools.CurlBody(_f.Lab, $"http://{LabAddresses.Vip}/").Trim());
        }

        Assert.True(KernelScheduled() - before >= 18, $"the kernel tier scheduled {KernelScheduled() - before} of 20 connections");
        // The keep-alive connections still answer from where they were.
        Assert.Equal(busy[0], KeepAliveClient.Get(first));
        Assert.Equal(busy[1], KeepAliveClient.Get(second));
    }

    [Fact]
    public void Mh_OneClientsConnections_AllToItsMaglevEntry_ScheduledByTheKernel()
    {
        var vip = Service("mh");
        Wait.For(() => _f.Director.Process.ReadLog().Contains("kernel tier schedules TCP " + vip + " itself (mh", StringComparison.Ordinal),
            "the mh service to be published to the kernel tier");

        long before = KernelScheduled();
        var bodies = Enumerable.Range(0, 20).Select(_ => ClientTools.CurlBody(_f.Lab, $"http://{LabAddresses.Vip}/").Trim()).ToList();
        // Without mh-port the client's address alone picks its entry of the lookup table: one real server for all.
        Assert.Single(bodies.Distinct());
        Assert.Contains(bodies[0], Names);
        Assert.True(KernelScheduled() - before >= 18, $"the kernel tier scheduled {KernelScheduled() - before} of 20 connections");
    }

    /// <summary>VIP:80 with <paramref name="scheduler"/> over rs1..rs3 (new real servers: fresh counts), the only service.</summary>
    private string Service(string scheduler)
    {
        var vip = LabAddresses.Vip + ":80";
        _f.Director.Adm("-C").EnsureSuccess("ipvsadm -C");
        _f.Director.Adm("-A", "-t", vip, "-s", scheduler).EnsureSuccess("ipvsadm -A -s " + scheduler);
        foreach (var rs in LabAddresses.RealServers)
            _f.Director.Adm("-a", "-t", vip, "-r", rs + ":80", "-g").EnsureSuccess("ipvsadm -a");
        return vip;
    }

    private long KernelScheduled()
    {
        using var doc = JsonDocument.Parse(_f.Director.Status(json: true).EnsureSuccess("status --json").StdOut);
        return doc.RootElement.GetProperty("kernel_scheduled").GetInt64();
    }
}
