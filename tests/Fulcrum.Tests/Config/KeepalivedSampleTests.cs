using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Config;

namespace Fulcrum.Tests.Config;

public class KeepalivedSampleTests
{
    internal static string Golden(params string[] parts) =>
        Path.Combine([AppContext.BaseDirectory, "Golden", "Config", .. parts]);

    private static KeepalivedConfiguration LoadClean(string path, int expectedWarnings = 0)
    {
        var result = KeepalivedConfig.Load(path);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        Assert.True(result.Warnings.Count == expectedWarnings, string.Join("\n", result.Diagnostics));
        return result.Configuration;
    }

    [Fact]
    public void Load_DrMaster_GlobalDefs()
    {
        var c = LoadClean(Golden("dr-master.conf"));
        var g = c.Global;
        Assert.Equal("LB1", g.RouterId);
        Assert.Equal(["ops@example.com", "noc@example.com"], g.NotificationEmail);
        Assert.Equal("lb1@example.com", g.NotificationEmailFrom);
        Assert.Equal("192.0.2.25", g.SmtpServer);
        Assert.Equal(25, g.SmtpPort);
        Assert.Equal(TimeSpan.FromSeconds(30), g.SmtpConnectTimeout);
        Assert.Equal(new LvsSyncDaemon("eth0", "VI_WEB", SyncId: 51), g.LvsSyncDaemon);
        Assert.Equal(new SourceLocation(Golden("dr-master.conf"), 4, 1), g.Location);
    }

    [Fact]
    public void Load_DrMaster_VrrpScriptAndInstance()
    {
        var c = LoadClean(Golden("dr-master.conf"));
        var s = Assert.Single(c.VrrpScripts);
        Assert.Equal("chk_director", s.Name);
        Assert.Equal("/usr/local/bin/check-director --quiet", s.Script);
        Assert.Equal(TimeSpan.FromSeconds(2), s.Interval);
        Assert.Equal(-20, s.Weight);
        Assert.Equal(3, s.Fall);
        Assert.Equal(2, s.Rise);
        Assert.Equal(TimeSpan.Zero, s.Timeout);

        var v = Assert.Single(c.VrrpInstances);
        Assert.Equal("VI_WEB", v.Name);
        Assert.Equal(VrrpState.Master, v.State);
        Assert.Equal("eth0", v.Interface);
        Assert.Equal(51, v.VirtualRouterId);
        Assert.Equal(150, v.Priority);
        Assert.Equal(TimeSpan.FromSeconds(1), v.AdvertInterval);
        Assert.Equal(2, v.Version);
        // `!` starts a comment even in the middle of a word (parser.c decomment).
        Assert.Equal(new VrrpAuthentication(VrrpAuthType.Pass, "s3cret"), v.Authentication);
        Assert.Equal(2, v.VirtualIpAddresses.Count);
        var vip = v.VirtualIpAddresses[0];
        Assert.Equal(IPAddress.Parse("198.51.100.100"), vip.Address);
        Assert.Equal(32, vip.PrefixLength);
        Assert.Equal("eth0", vip.Device);
        Assert.Equal("eth0:vip", vip.Label);
        Assert.Equal(new SourceLocation(Golden("dr-master.conf"), 35, 9), vip.Location);
        Assert.Equal(32, v.VirtualIpAddresses[1].PrefixLength);
        Assert.Null(v.VirtualIpAddresses[1].Device);
        var ts = Assert.Single(v.TrackScripts);
        Assert.Equal("chk_director", ts.Name);
        Assert.Null(ts.Weight);
        var ti = Assert.Single(v.TrackInterfaces);
        Assert.Equal(("eth1", -10), (ti.Name, ti.Weight));
        Assert.Equal("/etc/keepalived/notify.sh master", v.Notify.Master);
        Assert.Equal("/etc/keepalived/notify.sh backup", v.Notify.Backup);
        Assert.Equal("/etc/keepalived/notify.sh fault", v.Notify.Fault);
        Assert.Null(v.Notify.Any);
        Assert.Equal(TimeSpan.FromSeconds(1), v.GarpMasterDelay);
        Assert.Equal(3, v.GarpMasterRepeat);
        Assert.Equal(TimeSpan.Zero, v.GarpMasterRefresh);
        Assert.Equal(1, v.GarpMasterRefreshRepeat);
        Assert.False(v.NoPreempt);
    }

    [Fact]
    public void Load_DrMaster_VirtualServers()
    {
        var c = LoadClean(Golden("dr-master.conf"));
        Assert.Equal(2, c.VirtualServers.Count);
        var web = c.VirtualServers[0];
        Assert.Equal(new VirtualServerId(VirtualServerKind.Address, IPAddress.Parse("198.51.100.100"), 80, 0, null), web.Id);
        Assert.Equal(TimeSpan.FromSeconds(6), web.DelayLoop);
        Assert.Equal("wrr", web.Scheduler);
        Assert.Equal(ForwardingMethod.DirectRoute, web.Method);
        Assert.Equal(50u, web.PersistenceTimeout);
        Assert.Equal(IpProtocol.Tcp, web.Protocol);
        Assert.Equal(3, web.RealServers.Count);

        var rs1 = web.RealServers[0];
        Assert.Equal((IPAddress.Parse("198.51.100.2"), (ushort)80, 3), (rs1.Address, rs1.Port, rs1.Weight));
        Assert.Equal(ForwardingMethod.DirectRoute, rs1.Method);
        var http = Assert.IsType<HttpCheck>(Assert.Single(rs1.Checkers));
        Assert.False(http.IsSsl);
        Assert.Equal(2, http.Urls.Count);
        Assert.Equal("/healthz", http.Urls[0].Path);
        Assert.Equal([new StatusCodeRange(200, 200)], http.Urls[0].StatusCodes);
        Assert.Equal("9b3a0c85a887a256d6939da88aabd8cd", http.Urls[1].Digest);
        Assert.Equal([new StatusCodeRange(200, 299)], http.Urls[1].StatusCodes);
        Assert.Equal(TimeSpan.FromSeconds(3), http.Connection.ConnectTimeout);
        Assert.Equal(3, http.Timing.Retry);
        Assert.Equal(TimeSpan.FromSeconds(2), http.Timing.DelayBeforeRetry);
        Assert.Equal(TimeSpan.FromSeconds(6), http.Timing.DelayLoop);
        Assert.Equal(IPAddress.Parse("198.51.100.2"), http.Connection.ConnectIp);
        Assert.Equal(80, http.Connection.ConnectPort);

        var rs2 = web.RealServers[1];
        Assert.True(rs2.InhibitOnFailure);
        var tcp = Assert.IsType<TcpCheck>(Assert.Single(rs2.Checkers));
        Assert.Equal(80, tcp.Connection.ConnectPort);
        Assert.Equal(TimeSpan.FromSeconds(2), tcp.Connection.ConnectTimeout);
        Assert.Equal(1, tcp.Timing.Retry);
        Assert.Equal(TimeSpan.FromSeconds(1), tcp.Timing.DelayBeforeRetry);

        var rs3 = web.RealServers[2];
        Assert.False(rs3.InhibitOnFailure);
        Assert.Equal("/etc/keepalived/rs.sh up rs3", rs3.NotifyUp);
        Assert.Equal("/etc/keepalived/rs.sh down rs3", rs3.NotifyDown);

        var tls = c.VirtualServers[1];
        Assert.Equal(443, tls.Id.Port);
        Assert.Equal("sh", tls.Scheduler);
        Assert.Equal(SchedulerFlags.Flag2, tls.SchedulerFlags);
        Assert.Equal(360u, tls.PersistenceTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), tls.ConnectTimeout);
        var ssl = Assert.IsType<HttpCheck>(Assert.Single(tls.RealServers[0].Checkers));
        Assert.True(ssl.IsSsl);
        Assert.True(ssl.EnableSni);
        Assert.Equal([new StatusCodeRange(200, 299), new StatusCodeRange(301, 301)], ssl.Urls[0].StatusCodes);
        Assert.Equal(TimeSpan.FromSeconds(4), ssl.Connection.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), ssl.Timing.DelayBeforeRetry);
        var ssl2 = Assert.IsType<HttpCheck>(Assert.Single(tls.RealServers[1].Checkers));
        Assert.Equal(TimeSpan.FromSeconds(5), ssl2.Connection.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), ssl2.Timing.DelayLoop);
        Assert.Equal(TimeSpan.FromSeconds(10), ssl2.Timing.Warmup);
    }

    [Fact]
    public void Load_DrBackup_Vrrp3UnicastNoPreempt()
    {
        var c = LoadClean(Golden("dr-backup.conf"));
        Assert.Equal(3, c.Global.VrrpVersion);
        Assert.True(c.Global.EnableScriptSecurity);
        Assert.Equal("keepalived_script", c.Global.ScriptUser);
        var v = Assert.Single(c.VrrpInstances);
        Assert.Equal(VrrpState.Backup, v.State);
        Assert.Equal(100, v.Priority);
        Assert.Equal(3, v.Version);
        Assert.Equal(TimeSpan.FromMilliseconds(100), v.AdvertInterval);
        Assert.True(v.NoPreempt);
        Assert.Equal(IPAddress.Parse("198.51.100.12"), v.UnicastSourceIp);
        Assert.Equal(IPAddress.Parse("198.51.100.11"), Assert.Single(v.UnicastPeers).Address);
        Assert.Equal("/etc/keepalived/notify-all.sh", v.Notify.Any);
        Assert.Equal(TimeSpan.FromSeconds(5), v.GarpMasterDelay);
        Assert.Equal(5, v.GarpMasterRepeat);

        var vs = Assert.Single(c.VirtualServers);
        Assert.Equal(TimeSpan.FromSeconds(60), vs.DelayLoop);
        Assert.Equal("rr", vs.Scheduler);
        Assert.Equal(0u, vs.PersistenceTimeout);
    }

    [Fact]
    public void Load_NatServices_BraceOnNextLineAndCheckers()
    {
        var c = LoadClean(Golden("nat-services.conf"), expectedWarnings: 1);
        Assert.Equal("NAT1", c.Global.RouterId);
        Assert.Equal(3, c.VirtualServers.Count);

        var web = c.VirtualServers[0];
        Assert.Equal(ForwardingMethod.Masquerade, web.Method);
        Assert.Equal(24, web.PersistenceGranularity);
        Assert.Equal(360u, web.PersistenceTimeout);
        Assert.Equal(2, web.Quorum);
        Assert.Equal(1, web.Hysteresis);
        Assert.Equal("/usr/local/bin/quorum up", web.QuorumUp);
        Assert.Equal("/usr/local/bin/quorum down", web.QuorumDown);
        Assert.NotNull(web.SorryServer);
        Assert.Equal((IPAddress.Parse("198.51.100.250"), (ushort)8080, ForwardingMethod.Masquerade),
            (web.SorryServer.Address, web.SorryServer.Port, web.SorryServer.Method));

        var misc = Assert.IsType<MiscCheck>(Assert.Single(web.RealServers[0].Checkers));
        Assert.Equal("/usr/local/bin/check-app 198.51.100.2 8080", misc.Path);
        Assert.Equal(TimeSpan.FromSeconds(5), misc.Timeout);
        Assert.True(misc.Dynamic);
        Assert.Equal(0, misc.Timing.Retry);
        Assert.Equal(TimeSpan.FromSeconds(15), misc.Timing.DelayLoop);

        var http = Assert.IsType<HttpCheck>(Assert.Single(web.RealServers[1].Checkers));
        Assert.Equal(4, http.Timing.Retry);
        Assert.Equal("app.example.com", http.Urls[0].VirtualHost);
        Assert.Equal([new StatusCodeRange(200, 200), new StatusCodeRange(204, 204)], http.Urls[0].StatusCodes);
        Assert.Equal(8081, http.Connection.ConnectPort);

        var dns = c.VirtualServers[1];
        Assert.Equal(IpProtocol.Udp, dns.Protocol);
        Assert.True(dns.OnePacket);
        Assert.Equal(ForwardingMethod.Masquerade, dns.Method);
        var d1 = Assert.IsType<DnsCheck>(Assert.Single(dns.RealServers[0].Checkers));
        Assert.Equal(("A", "ns.example.com"), (d1.Type, d1.Name));
        var d2 = Assert.IsType<DnsCheck>(Assert.Single(dns.RealServers[1].Checkers));
        Assert.Equal(("SOA", ""), (d2.Type, d2.Name));
        Assert.Equal(3, d2.Timing.Retry);
        Assert.Equal(TimeSpan.FromSeconds(60), d2.Timing.DelayBeforeRetry);

        var fwm = c.VirtualServers[2];
        Assert.Equal(VirtualServerKind.FwMark, fwm.Id.Kind);
        Assert.Equal(7u, fwm.Id.FwMark);
        var rs = Assert.Single(fwm.RealServers);
        Assert.Equal(0, rs.Port);
        Assert.Equal(443, Assert.IsType<TcpCheck>(Assert.Single(rs.Checkers)).Connection.ConnectPort);
    }

    [Fact]
    public void Load_NatServices_NbGetRetryWarnsAsDeprecated()
    {
        var result = KeepalivedConfig.Load(Golden("nat-services.conf"));
        var w = Assert.Single(result.Warnings);
        Assert.Equal($"{Golden("nat-services.conf")}:41:13: nb_get_retry is deprecated - please use 'retry'", w.ToString());
    }

    [Fact]
    public void Load_SyncGroup_InstancesGroupAndVsGroup()
    {
        var c = LoadClean(Golden("sync-group.conf"), expectedWarnings: 1);
        var g = Assert.Single(c.VrrpSyncGroups);
        Assert.Equal("VG_1", g.Name);
        Assert.Equal(["VI_OUTSIDE", "VI_INSIDE"], g.Instances);
        Assert.Equal("/etc/keepalived/sg.sh master", g.Notify.Master);
        Assert.Equal("/etc/keepalived/sg.sh fault", g.Notify.Fault);

        Assert.Equal(2, c.VrrpInstances.Count);
        var outside = c.VrrpInstances[0];
        Assert.Equal(VrrpState.Master, outside.State);
        Assert.Equal(255, outside.Priority);
        var vip = Assert.Single(outside.VirtualIpAddresses);
        Assert.Equal((24, IPAddress.Parse("203.0.113.255")), (vip.PrefixLength, vip.Broadcast));
        var inside = c.VrrpInstances[1];
        Assert.Equal(200, inside.Priority);
        // preempt_delay does not apply with state MASTER; keepalived clears it (vrrp.c 3553-3572).
        Assert.Equal(TimeSpan.Zero, inside.PreemptDelay);

        var vsg = Assert.Single(c.VirtualServerGroups);
        Assert.Equal(3, vsg.Entries.Count);
        Assert.Equal(IPAddress.Parse("203.0.113.110"), vsg.Entries[1].First);
        Assert.Equal(IPAddress.Parse("203.0.113.112"), vsg.Entries[1].Last);
        Assert.True(vsg.Entries[2].IsFwMark);
        Assert.Equal(9u, vsg.Entries[2].FwMark);
        var vs = Assert.Single(c.VirtualServers);
        Assert.Equal(new VirtualServerId(VirtualServerKind.Group, null, 0, 0, "WEB"), vs.Id);
    }

    [Fact]
    public void Load_SyncGroup_PreemptDelayIgnoredIsWarned()
    {
        // The sample is clean apart from this one correction, which is a warning, not silent.
        var text = File.ReadAllText(Golden("sync-group.conf"));
        var result = KeepalivedConfig.Parse(text, "sg.conf");
        Assert.True(result.Success);
        var w = Assert.Single(result.Warnings);
        Assert.Equal("sg.conf:29:5: (VI_INSIDE) preempt_delay is ignored with state MASTER, nopreempt or vrrp_strict", w.ToString());
    }

    [Fact]
    public void Load_Includes_GlobsRelativeToIncludingFileAndDefinitions()
    {
        var result = KeepalivedConfig.Load(Golden("includes", "keepalived.conf"));
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        var c = result.Configuration;
        Assert.Equal("INC1", c.Global.RouterId);
        var v = Assert.Single(c.VrrpInstances);
        Assert.Equal(IPAddress.Parse("198.51.100.100"), Assert.Single(v.VirtualIpAddresses).Address);
        Assert.Equal(Golden("includes", "conf.d", "10-vrrp.conf"), v.Location.File);

        var vs = Assert.Single(c.VirtualServers);
        Assert.Equal(IPAddress.Parse("198.51.100.100"), vs.Id.Address);
        Assert.Equal(2, vs.RealServers.Count);
        Assert.Equal(5, vs.RealServers[0].Weight);
        Assert.Equal(new SourceLocation(Golden("includes", "conf.d", "rs", "web-1.inc"), 1, 1), vs.RealServers[0].Location);
        Assert.Equal(7, vs.RealServers[1].Weight);
        var tcp = Assert.IsType<TcpCheck>(Assert.Single(vs.RealServers[1].Checkers));
        Assert.Equal(TimeSpan.FromSeconds(1), tcp.Connection.ConnectTimeout);

        // The brace-expanded glob that matches nothing is a warning, as keepalived reports it.
        var w = Assert.Single(result.Warnings);
        Assert.Equal("No config files matched 'conf.d/{none,nothing}-*.conf'.", w.Message);
        Assert.Equal((4, 9), (w.Line, w.Column));
    }

    [Fact]
    public void Load_AllSamples_MapToIpvs()
    {
        var c = LoadClean(Golden("dr-master.conf"));
        var ipvs = KeepalivedIpvs.ToIpvs(c);
        Assert.Equal(2, ipvs.Count);
        var (svc, dests) = ipvs[0];
        Assert.Equal(new ServiceKey(IpProtocol.Tcp, IPAddress.Parse("198.51.100.100"), 80), svc.Key);
        Assert.Equal("wrr", svc.Scheduler);
        Assert.Equal(50u, svc.PersistenceTimeout);
        Assert.Equal(3, dests.Count);
        Assert.Equal(new DestSpec(IPAddress.Parse("198.51.100.2"), 80, ForwardingMethod.DirectRoute, 3), dests[0]);
    }
}
