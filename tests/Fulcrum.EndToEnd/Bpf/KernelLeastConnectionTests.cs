using System.Text.Json;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;

namespace Fulcrum.EndToEnd.Bpf;

/// <summary>A lab with Fulcrum in lb1 on the default driver (the kernel tier) and no service yet.</summary>
public sealed class KernelLeastConnectionFixture : IAsyncLifetime
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
/// wlc, ipvsadm's default scheduler, with its SYNs scheduled by the kernel tier: the program reads the real servers'
/// ActiveConn/InActConn that it and the workers share, so connections held open on two real servers send every new
/// one to the third, also when those two were opened under another scheduler before an `-E` switched to wlc.
/// </summary>
[Collection("KernelTier")]
public sealed class KernelLeastConnectionTests : IClassFixture<KernelLeastConnectionFixture>
{
    private static readonly string[] Names = ["rs1", "rs2", "rs3"];
    private readonly KernelLeastConnectionFixture _f;

    public KernelLeastConnectionTests(KernelLeastConnectionFixture fixture) => _f = fixture;

    [Fact]
    public void Wlc_TwoRealServersHoldingConnections_EveryNewOneGoesToTheThird_ScheduledByTheKernel()
    {
        var vip = LabAddresses.Vip + ":80";
        _f.Director.Adm("-A", "-t", vip, "-s", "rr").EnsureSuccess("ipvsadm -A");
        foreach (var rs in LabAddresses.RealServers)
            _f.Director.Adm("-a", "-t", vip, "-r", rs + ":80", "-g").EnsureSuccess("ipvsadm -a");

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

    private long KernelScheduled()
    {
        using var doc = JsonDocument.Parse(_f.Director.Status(json: true).EnsureSuccess("status --json").StdOut);
        return doc.RootElement.GetProperty("kernel_scheduled").GetInt64();
    }
}
