using Fulcrum.Balancing;
using Fulcrum.Config;
using Fulcrum.Lab;

namespace Fulcrum.Tests.Lab;

public class LabHaConfigTests
{
    private static KeepalivedConfiguration Parse(LabHaConfig config, string host)
    {
        var result = KeepalivedConfig.Parse(config.Render(host), $"keepalived-{host}.conf");
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        Assert.Empty(result.Diagnostics);
        return result.Configuration;
    }

    [Theory]
    [InlineData("lb1", 150)]
    [InlineData("lb2", 100)]
    public void Render_Director_OneVrrpv3InstanceForTheVipAtItsPriority(string host, int priority)
    {
        var c = Parse(new LabHaConfig(), host);

        var vrrp = Assert.Single(c.VrrpInstances);
        Assert.Equal(LabHaConfig.InstanceName, vrrp.Name);
        Assert.Equal(priority, vrrp.Priority);
        Assert.Equal(51, vrrp.VirtualRouterId);
        Assert.Equal(3, vrrp.Version);
        Assert.Equal(TimeSpan.FromMilliseconds(100), vrrp.AdvertInterval);
        Assert.Equal("eth0", vrrp.Interface);
        Assert.False(vrrp.NoPreempt);
        Assert.Equal(LabAddresses.Vip, Assert.Single(vrrp.VirtualIpAddresses).Address);
        Assert.Equal("lab_" + host, c.Global.RouterId);
        Assert.Null(c.Global.LvsSyncDaemon);
    }

    [Fact]
    public void Render_VirtualServer_MaglevWithPortAndFallback_HttpGetOnEveryRealServer_InhibitOnFailure()
    {
        var vs = Assert.Single(Parse(new LabHaConfig(), "lb1").VirtualServers);

        Assert.Equal("mh", vs.Scheduler);
        Assert.Equal(SchedulerFlags.Flag1 | SchedulerFlags.Flag2, vs.SchedulerFlags); // mh-fallback, mh-port
        Assert.Equal(ForwardingMethod.DirectRoute, vs.Method);
        Assert.Equal(LabAddresses.Vip, vs.Id.Address);
        Assert.Equal(80, vs.Id.Port);
        Assert.Equal([LabAddresses.Rs1, LabAddresses.Rs2, LabAddresses.Rs3], vs.RealServers.Select(r => r.Address));
        Assert.All(vs.RealServers, rs =>
        {
            Assert.True(rs.InhibitOnFailure);
            Assert.Equal(1, rs.Weight);
            var check = Assert.IsType<HttpCheck>(Assert.Single(rs.Checkers));
            Assert.Equal(TimeSpan.FromMilliseconds(500), check.Timing.DelayLoop);
            Assert.Equal(1, check.Timing.Retry);
            Assert.Equal(TimeSpan.FromMilliseconds(200), check.Timing.DelayBeforeRetry);
        });
    }

    [Fact]
    public void Render_BothDirectors_DifferOnlyInRouterIdAndPriority()
    {
        var config = new LabHaConfig();
        var lb1 = config.Render("lb1").Split('\n');
        var lb2 = config.Render("lb2").Split('\n');

        Assert.Equal(lb1.Length, lb2.Length);
        var differing = lb1.Zip(lb2).Where(p => p.First != p.Second).Select(p => p.First.Trim()).ToList();
        Assert.Equal(["# Written by Fulcrum's lab for lb1.", "router_id lab_lb1", "priority 150"], differing);
    }

    [Fact]
    public void Render_LvsSyncDaemon_GoesIntoGlobalDefs()
    {
        var c = Parse(new LabHaConfig { LvsSyncDaemon = "eth0 VI_1 id 51" }, "lb2");

        Assert.Equal(new LvsSyncDaemon("eth0", "VI_1", SyncId: 51), c.Global.LvsSyncDaemon);
    }

    [Fact]
    public void Render_RoundRobinWithoutFlags_Parses()
    {
        var vs = Assert.Single(Parse(new LabHaConfig { Scheduler = "rr", SchedulerFlags = [], InhibitOnFailure = false }, "lb1").VirtualServers);

        Assert.Equal("rr", vs.Scheduler);
        Assert.Equal(SchedulerFlags.None, vs.SchedulerFlags);
        Assert.All(vs.RealServers, rs => Assert.False(rs.InhibitOnFailure));
    }

    [Fact]
    public void PriorityOf_NotADirector_Throws() =>
        Assert.Throws<ArgumentException>(() => LabHaConfig.PriorityOf("rs1"));
}
