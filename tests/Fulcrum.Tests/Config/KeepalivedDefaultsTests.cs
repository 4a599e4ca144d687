using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Config;

namespace Fulcrum.Tests.Config;

public class KeepalivedDefaultsTests
{
    private static ConfigLoadResult Parse(string text) => KeepalivedConfig.Parse(text, "d.conf");

    private static VrrpInstance Instance(string body, string global = "")
    {
        var r = Parse($"{global}vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 9\n{body}\n}}\n");
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        return Assert.Single(r.Configuration.VrrpInstances);
    }

    private static VirtualServer Service(string vsBody, string rsBody = "TCP_CHECK {\n}")
    {
        var r = Parse($"virtual_server 198.51.100.100 80 {{\n{vsBody}\n real_server 198.51.100.2 80 {{\n{rsBody}\n }}\n}}\n");
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        return Assert.Single(r.Configuration.VirtualServers);
    }

    [Theory]
    [InlineData(" state MASTER", VrrpState.Master, 255)]
    [InlineData(" state MASTER\n priority 120", VrrpState.Master, 120)]
    [InlineData(" state BACKUP", VrrpState.Backup, 100)]
    [InlineData("", VrrpState.Backup, 100)]
    [InlineData(" priority 255", VrrpState.Master, 255)]
    [InlineData(" priority 254", VrrpState.Backup, 254)]
    public void Instance_StateAndPriority_KeepalivedDefaults(string body, VrrpState state, int priority)
    {
        var v = Instance(body);
        Assert.Equal(state, v.State);
        Assert.Equal(priority, v.Priority);
    }

    [Fact]
    public void Instance_NoKeywords_Defaults()
    {
        var v = Instance("");
        Assert.Equal(TimeSpan.FromSeconds(1), v.AdvertInterval);
        Assert.Equal(2, v.Version);
        Assert.Null(v.Authentication);
        Assert.False(v.NoPreempt);
        Assert.Equal(TimeSpan.Zero, v.PreemptDelay);
        Assert.Equal(TimeSpan.FromSeconds(5), v.GarpMasterDelay);
        Assert.Equal(5, v.GarpMasterRepeat);
        Assert.Equal(TimeSpan.Zero, v.GarpMasterRefresh);
        Assert.Equal(1, v.GarpMasterRefreshRepeat);
        Assert.False(v.UseVmac);
        Assert.Equal(VrrpNotify.None, v.Notify);
    }

    [Fact]
    public void Instance_GlobalGarpAndVersion_AreInheritedEvenWhenGlobalDefsComesLater()
    {
        var r = Parse("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n}\nglobal_defs {\n vrrp_version 3\n vrrp_garp_master_delay 2\n vrrp_garp_master_repeat 4\n}\n");
        var v = Assert.Single(r.Configuration.VrrpInstances);
        Assert.Equal(3, v.Version);
        Assert.Equal(TimeSpan.FromSeconds(2), v.GarpMasterDelay);
        Assert.Equal(4, v.GarpMasterRepeat);
    }

    [Theory]
    [InlineData(" advert_int 1.4", 2, 1000)]
    [InlineData(" advert_int 1.5", 2, 2000)]
    [InlineData(" advert_int 0.2", 2, 1000)]
    [InlineData(" version 3\n advert_int 0.123", 3, 120)]
    [InlineData(" version 3\n advert_int 0.125", 3, 130)]
    [InlineData(" version 3\n advert_int 41", 3, 40950)]
    public void Instance_AdvertInt_RoundedPerVersionWithWarning(string body, int version, int expectedMs)
    {
        var r = Parse($"vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 9\n{body}\n}}\n");
        Assert.True(r.Success);
        var v = Assert.Single(r.Configuration.VrrpInstances);
        Assert.Equal(version, v.Version);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), v.AdvertInterval);
        Assert.Single(r.Warnings);
    }

    [Fact]
    public void Instance_AdvertIntWhole_NoWarning()
    {
        var r = Parse("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n version 3\n advert_int 0.05\n}\n");
        Assert.Empty(r.Diagnostics);
        Assert.Equal(TimeSpan.FromMilliseconds(50), Assert.Single(r.Configuration.VrrpInstances).AdvertInterval);
    }

    [Fact]
    public void Instance_Ipv6Vip_ForcesVersion3()
    {
        var v = Instance(" virtual_ipaddress {\n 2001:db8:100::100/64\n }");
        Assert.Equal(3, v.Version);
        Assert.True(v.IsIpv6);
        Assert.Equal(64, Assert.Single(v.VirtualIpAddresses).PrefixLength);
    }

    [Fact]
    public void Instance_Ipv6VipWithoutLength_Is128()
    {
        var v = Instance(" virtual_ipaddress {\n 2001:db8:100::100\n }");
        Assert.Equal(128, Assert.Single(v.VirtualIpAddresses).PrefixLength);
    }

    [Fact]
    public void Instance_NoPreemptWithMaster_ClearedWithWarning()
    {
        var r = Parse("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n state MASTER\n nopreempt\n}\n");
        Assert.False(Assert.Single(r.Configuration.VrrpInstances).NoPreempt);
        Assert.Equal("d.conf:5:2: (VI_1) nopreempt needs state BACKUP and a priority below 255 - clearing", Assert.Single(r.Warnings).ToString());
    }

    [Fact]
    public void Instance_PreemptAfterNoPreempt_Preempts()
    {
        Assert.False(Instance(" nopreempt\n preempt").NoPreempt);
        Assert.True(Instance(" preempt\n nopreempt").NoPreempt);
    }

    [Fact]
    public void Instance_PreemptDelayOnBackup_Kept()
    {
        Assert.Equal(TimeSpan.FromSeconds(2.5), Instance(" preempt_delay 2.5").PreemptDelay);
    }

    [Fact]
    public void Instance_LongAuthPass_TruncatedTo8WithWarning()
    {
        var r = Parse("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n authentication {\n auth_type PASS\n auth_pass 0123456789\n }\n}\n");
        Assert.Equal("01234567", Assert.Single(r.Configuration.VrrpInstances).Authentication!.Password);
        Assert.Equal("d.conf:6:12: Truncating auth_pass to 8 characters", Assert.Single(r.Warnings).ToString());
    }

    [Fact]
    public void Instance_AuthWithVersion3_DroppedWithWarning()
    {
        var r = Parse("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n version 3\n authentication {\n auth_type PASS\n auth_pass x\n }\n}\n");
        Assert.Null(Assert.Single(r.Configuration.VrrpInstances).Authentication);
        Assert.Equal("d.conf:5:2: (VI_1) authentication is not supported in VRRPv3 - ignoring", Assert.Single(r.Warnings).ToString());
    }

    [Fact]
    public void Instance_GarpRepeatZero_BecomesOneWithWarning()
    {
        var r = Parse("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n garp_master_repeat 0\n}\n");
        Assert.Equal(1, Assert.Single(r.Configuration.VrrpInstances).GarpMasterRepeat);
        Assert.Single(r.Warnings);
    }

    [Fact]
    public void Instance_UseVmac_DefaultNameIsVrrpDotVrid()
    {
        var v = Instance(" use_vmac");
        Assert.True(v.UseVmac);
        Assert.Equal("vrrp.9", v.VmacInterface);
    }

    [Fact]
    public void Instance_NoInterfaceNoPeers_IsError()
    {
        var r = Parse("vrrp_instance VI_1 {\n virtual_router_id 9\n}\n");
        Assert.Equal("d.conf:1:1: (VI_1) Unknown interface!", Assert.Single(r.Errors).ToString());
    }

    [Fact]
    public void VrrpScript_Defaults()
    {
        var r = Parse("vrrp_script chk {\n script /bin/true\n}\n");
        var s = Assert.Single(r.Configuration.VrrpScripts);
        Assert.Equal((TimeSpan.FromSeconds(1), TimeSpan.Zero, 0, 1, 1), (s.Interval, s.Timeout, s.Weight, s.Rise, s.Fall));
    }

    [Fact]
    public void VrrpScript_WithoutScript_RemovedWithWarning()
    {
        var r = Parse("vrrp_script chk {\n interval 2\n}\n");
        Assert.Empty(r.Configuration.VrrpScripts);
        Assert.Equal("d.conf:1:1: No script set for vrrp_script chk - removing", Assert.Single(r.Warnings).ToString());
    }

    [Fact]
    public void VirtualServer_Defaults()
    {
        var vs = Service("");
        Assert.Equal(TimeSpan.FromSeconds(60), vs.DelayLoop);
        Assert.Equal("wlc", vs.Scheduler);
        Assert.Equal(ForwardingMethod.Masquerade, vs.Method); // keepalived: NAT, not ipvsadm's DR
        Assert.Equal(IpProtocol.Tcp, vs.Protocol);
        Assert.Equal(0u, vs.PersistenceTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), vs.ConnectTimeout);
        Assert.Equal(1, vs.Quorum);
        Assert.Equal(0, vs.Hysteresis);
        Assert.Equal(1, vs.Weight);
        Assert.False(vs.InhibitOnFailure);
        var rs = Assert.Single(vs.RealServers);
        Assert.Equal(1, rs.Weight);
        Assert.Equal(ForwardingMethod.Masquerade, rs.Method);
    }

    [Fact]
    public void VirtualServer_PersistenceTimeoutWithoutValue_Is360()
    {
        Assert.Equal(360u, Service(" persistence_timeout").PersistenceTimeout);
    }

    [Fact]
    public void VirtualServer_GranularityAlone_Sets360()
    {
        var vs = Service(" persistence_granularity 24");
        Assert.Equal((360u, (int?)24), (vs.PersistenceTimeout, vs.PersistenceGranularity));
    }

    [Fact]
    public void RealServer_InheritsVirtualServerWeightAndInhibit()
    {
        var vs = Service(" weight 4\n inhibit_on_failure\n lb_kind DR");
        var rs = Assert.Single(vs.RealServers);
        Assert.Equal(4, rs.Weight);
        Assert.True(rs.InhibitOnFailure);
        Assert.Equal(ForwardingMethod.DirectRoute, rs.Method);
    }

    [Fact]
    public void RealServer_OwnValuesOverrideVirtualServer()
    {
        var vs = Service(" weight 4\n inhibit_on_failure\n lb_kind DR", " weight 0\n inhibit_on_failure off\n lvs_method TUN type gre csum\n TCP_CHECK {\n }");
        var rs = Assert.Single(vs.RealServers);
        Assert.Equal(0, rs.Weight);
        Assert.False(rs.InhibitOnFailure);
        Assert.Equal(ForwardingMethod.Tunnel, rs.Method);
        Assert.Equal(new TunnelOptions("gre", 0, "csum"), rs.Tunnel);
    }

    [Fact]
    public void TcpCheck_Defaults()
    {
        var c = Assert.IsType<TcpCheck>(Assert.Single(Assert.Single(Service("").RealServers).Checkers));
        Assert.Equal(TimeSpan.FromSeconds(5), c.Connection.ConnectTimeout);
        Assert.Equal(1, c.Timing.Retry);
        Assert.Equal(TimeSpan.FromSeconds(1), c.Timing.DelayBeforeRetry);
        Assert.Equal(TimeSpan.FromSeconds(60), c.Timing.DelayLoop);
        Assert.Equal(TimeSpan.FromSeconds(60), c.Timing.Warmup);
        Assert.False(c.Timing.Alpha);
        Assert.Equal((IPAddress.Parse("198.51.100.2"), (ushort)80), (c.Connection.ConnectIp, c.Connection.ConnectPort));
    }

    [Fact]
    public void HttpCheck_Defaults()
    {
        var c = Assert.IsType<HttpCheck>(Assert.Single(Assert.Single(Service("", "HTTP_GET {\n url {\n path /\n }\n}").RealServers).Checkers));
        Assert.Equal(TimeSpan.FromSeconds(3), c.Timing.DelayBeforeRetry);
        Assert.Equal(1, c.Timing.Retry);
        Assert.Equal([new StatusCodeRange(200, 299)], Assert.Single(c.Urls).StatusCodes);
        Assert.Null(c.Urls[0].Digest);
    }

    [Fact]
    public void HttpCheck_WithoutUrl_IgnoredWithWarning()
    {
        var r = Parse("virtual_server 198.51.100.100 80 {\n real_server 198.51.100.2 80 {\n  HTTP_GET {\n  }\n }\n}\n");
        Assert.Empty(Assert.Single(Assert.Single(r.Configuration.VirtualServers).RealServers).Checkers);
        Assert.Equal("d.conf:3:3: HTTP_GET has no url - checker ignored", Assert.Single(r.Warnings).ToString());
    }

    [Fact]
    public void MiscCheck_Defaults()
    {
        var c = Assert.IsType<MiscCheck>(Assert.Single(Assert.Single(Service("", "MISC_CHECK {\n misc_path /bin/true\n}").RealServers).Checkers));
        Assert.Equal(0, c.Timing.Retry);
        Assert.Null(c.Timeout);
        Assert.False(c.Dynamic);
    }

    [Fact]
    public void DnsCheck_Defaults()
    {
        var c = Assert.IsType<DnsCheck>(Assert.Single(Assert.Single(Service(" delay_loop 7", "DNS_CHECK {\n}").RealServers).Checkers));
        Assert.Equal(("SOA", ""), (c.Type, c.Name));
        Assert.Equal(3, c.Timing.Retry);
        Assert.Equal(TimeSpan.FromSeconds(7), c.Timing.DelayBeforeRetry);
    }

    [Fact]
    public void Checker_TimingInheritance_CheckerThenRealServerThenVirtualServer()
    {
        var vs = Service(
            " delay_loop 30\n connect_timeout 8\n retry 6\n delay_before_retry 4\n warmup 9\n alpha",
            " connect_timeout 7\n delay_loop 20\n TCP_CHECK {\n  retry 2\n }\n TCP_CHECK {\n  connect_timeout 1\n  delay_loop 10\n }");
        var checks = Assert.Single(vs.RealServers).Checkers;
        var a = Assert.IsType<TcpCheck>(checks[0]);
        Assert.Equal(2, a.Timing.Retry);
        Assert.Equal(TimeSpan.FromSeconds(7), a.Connection.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(20), a.Timing.DelayLoop);
        Assert.Equal(TimeSpan.FromSeconds(4), a.Timing.DelayBeforeRetry);
        Assert.Equal(TimeSpan.FromSeconds(9), a.Timing.Warmup);
        Assert.True(a.Timing.Alpha);
        var b = Assert.IsType<TcpCheck>(checks[1]);
        Assert.Equal(6, b.Timing.Retry);
        Assert.Equal(TimeSpan.FromSeconds(1), b.Connection.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), b.Timing.DelayLoop);
    }

    [Fact]
    public void RealServer_WithoutPort_CheckerUsesServicePort()
    {
        var r = Parse("virtual_server 198.51.100.100 8443 {\n lb_kind DR\n real_server 198.51.100.2 {\n  TCP_CHECK {\n  }\n }\n}\n");
        var rs = Assert.Single(Assert.Single(r.Configuration.VirtualServers).RealServers);
        Assert.Equal(0, rs.Port);
        Assert.Equal(8443, Assert.IsType<TcpCheck>(Assert.Single(rs.Checkers)).Connection.ConnectPort);
    }

    [Fact]
    public void RealServer_Duplicate_RemovedWithWarning()
    {
        var r = Parse("virtual_server 198.51.100.100 80 {\n real_server 198.51.100.2 80 {\n }\n real_server 198.51.100.2 80 {\n }\n}\n");
        Assert.Single(Assert.Single(r.Configuration.VirtualServers).RealServers);
        Assert.Equal("d.conf:4:2: VS 198.51.100.100:80: real server 198.51.100.2:80 is duplicated - removing second rs", Assert.Single(r.Warnings).ToString());
    }

    [Fact]
    public void SchedulerFlags_ShFlagsNeedSh()
    {
        var r = Parse("virtual_server 198.51.100.100 80 {\n lb_algo rr\n sh-port\n real_server 198.51.100.2 80 {\n }\n}\n");
        Assert.Equal(SchedulerFlags.None, Assert.Single(r.Configuration.VirtualServers).SchedulerFlags);
        Assert.Equal("d.conf:3:2: sh-port only applies to sh scheduler - ignoring", Assert.Single(r.Warnings).ToString());
        var mh = Service(" lb_algo mh\n mh-fallback\n mh-port");
        Assert.Equal(SchedulerFlags.Flag1 | SchedulerFlags.Flag2, mh.SchedulerFlags);
    }

    [Fact]
    public void Protocol_IsCaseInsensitiveAndIgnoredForFwmark()
    {
        Assert.Equal(IpProtocol.Sctp, Service(" protocol sctp").Protocol);
        var r = Parse("virtual_server fwmark 3 {\n protocol UDP\n real_server 198.51.100.2 80 {\n }\n}\n");
        Assert.Equal(IpProtocol.Tcp, Assert.Single(r.Configuration.VirtualServers).Protocol);
        Assert.Single(r.Warnings);
    }

    [Fact]
    public void GlobalDefs_Defaults()
    {
        var g = Parse("").Configuration.Global;
        Assert.Null(g.RouterId);
        Assert.Equal(2, g.VrrpVersion);
        Assert.Equal(IPAddress.Parse("224.0.0.18"), g.VrrpMcastGroup4);
        Assert.Equal(IPAddress.Parse("ff02::12"), g.VrrpMcastGroup6);
        Assert.Equal(TimeSpan.FromSeconds(30), g.SmtpConnectTimeout);
        Assert.Null(g.LvsSyncDaemon);
    }

    [Fact]
    public void GlobalDefs_LvsSyncDaemonOldForm_WarnsAboutId()
    {
        var r = Parse("global_defs {\n lvs_sync_daemon eth1 VI_1 7\n}\n");
        Assert.Equal(new LvsSyncDaemon("eth1", "VI_1", 7), r.Configuration.Global.LvsSyncDaemon);
        Assert.Contains(r.Warnings, w => w.Message == "Please use keyword \"id\" before lvs_sync_daemon SYNCID");
    }

    [Fact]
    public void GlobalDefs_LvsSyncDaemonFullForm()
    {
        var r = Parse("global_defs {\n lvs_sync_daemon eth1 inst VI_1 id 3 maxlen 1400 port 8849 ttl 2 group 239.1.2.3\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n}\n");
        Assert.Empty(r.Diagnostics);
        Assert.Equal(new LvsSyncDaemon("eth1", "VI_1", 3, 1400, 8849, 2, IPAddress.Parse("239.1.2.3")), r.Configuration.Global.LvsSyncDaemon);
    }
    [Fact]
    public void HttpCheck_VirtualHost_InheritedFromRealServerThenVirtualServer()
    {
        var vs = Service(" virtualhost vs.example", " virtualhost rs.example\n HTTP_GET {\n  url {\n   path /\n  }\n }\n HTTP_GET {\n  virtualhost own.example\n  url {\n   path /\n  }\n }");
        var checks = Assert.Single(vs.RealServers).Checkers;
        Assert.Equal("rs.example", Assert.IsType<HttpCheck>(checks[0]).VirtualHost);
        Assert.Equal("own.example", Assert.IsType<HttpCheck>(checks[1]).VirtualHost);
        var onlyVs = Service(" virtualhost vs.example", " HTTP_GET {\n  url {\n   path /\n  }\n }");
        Assert.Equal("vs.example", Assert.IsType<HttpCheck>(Assert.Single(Assert.Single(onlyVs.RealServers).Checkers)).VirtualHost);
    }

    [Fact]
    public void SyncGroup_NotifyStop_Parsed()
    {
        var r = Parse("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n}\nvrrp_sync_group G {\n group {\n  VI_1\n }\n notify_stop \"/bin/stop x\"\n}\n");
        Assert.Equal("d.conf:5:1: Sync group G has only 1 virtual router(s) - this probably isn't what you want", Assert.Single(r.Diagnostics).Error.ToString());
        Assert.Equal("/bin/stop x", Assert.Single(r.Configuration.VrrpSyncGroups).Notify.Stop);
    }
}
