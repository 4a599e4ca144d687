using System.Net;
using Fulcrum.Config;

namespace Fulcrum.Tests.Config;

public class KeepalivedErrorTests
{
    private static ConfigLoadResult Parse(string text) => KeepalivedConfig.Parse(text, "b.conf");

    private static string Only(ConfigLoadResult r, ConfigSeverity severity)
    {
        var list = severity == ConfigSeverity.Error ? r.Errors : r.Warnings;
        Assert.True(list.Count == 1, string.Join("\n", r.Diagnostics));
        return list[0].ToString();
    }

    private const string MinimalInstance = """
        vrrp_instance VI_1 {
            interface eth0
            virtual_router_id 51

        """;

    [Fact]
    public void Parse_UnclosedBlock_ReportsOpeningBrace()
    {
        var r = Parse("vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n");
        Assert.False(r.Success);
        Assert.Equal("b.conf:1:20: '{' has no matching '}'", Only(r, ConfigSeverity.Error));
    }

    [Fact]
    public void Parse_ExtraCloseBrace_ReportsIt()
    {
        var r = Parse("global_defs {\n  router_id X\n}\n  }\n");
        Assert.Equal("b.conf:4:3: Extra '}' found", Only(r, ConfigSeverity.Error));
        Assert.Equal("X", r.Configuration.Global.RouterId);
    }

    [Fact]
    public void Parse_UnexpectedOpenBrace_ReportsAndSkipsBlock()
    {
        var r = Parse("global_defs {\n  router_id X\n}\n{\n  router_id Y\n}\n");
        Assert.Equal("b.conf:4:1: Unexpected '{' - block skipped", Only(r, ConfigSeverity.Error));
        Assert.Equal("X", r.Configuration.Global.RouterId);
    }

    [Theory]
    [InlineData("    priority 300", "b.conf:4:14: priority '300' is invalid: must be an integer in 1..255")]
    [InlineData("    priority 0", "b.conf:4:14: priority '0' is invalid: must be an integer in 1..255")]
    [InlineData("    priority ten", "b.conf:4:14: priority 'ten' is invalid: must be an integer in 1..255")]
    [InlineData("    advert_int 300", "b.conf:4:16: advert_int '300' is invalid: must be seconds in 0.01..255")]
    [InlineData("    advert_int -1", "b.conf:4:16: advert_int '-1' is invalid: must be seconds in 0.01..255")]
    [InlineData("    preempt_delay 1001", "b.conf:4:19: preempt_delay '1001' is invalid: must be seconds in 0..1000")]
    [InlineData("    version 4", "b.conf:4:13: version '4' is invalid: must be an integer in 2..3")]
    [InlineData("    state FOO", "b.conf:4:11: (VI_1) unknown state 'FOO', defaulting to BACKUP")]
    [InlineData("    unicast_src_ip 198.51.100.300", "b.conf:4:20: unicast_src_ip '198.51.100.300' is not an IP address")]
    [InlineData("    priority", "b.conf:4:5: 'priority' needs a value")]
    [InlineData("    virtual_ipaddress {\n        198.51.100.10/33\n    }", "b.conf:5:9: virtual_ipaddress '198.51.100.10/33' has an invalid prefix length (0..32)")]
    [InlineData("    authentication {\n        auth_type MD5\n    }", "b.conf:5:19: (VI_1) unknown authentication type 'MD5'")]
    public void Parse_BadVrrpValue_ReportsPosition(string line, string expected)
    {
        var r = Parse(MinimalInstance + line + "\n}\n");
        Assert.Contains(expected, Errors(r));
    }

    private static List<string> Errors(ConfigLoadResult r)
    {
        var list = new List<string>();
        foreach (var e in r.Errors)
            list.Add(e.ToString());
        return list;
    }

    [Fact]
    public void Parse_VirtualRouterIdOutOfRange_ReportsAndDropsInstance()
    {
        var r = Parse("vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 256\n}\n");
        Assert.Equal(
            ["b.conf:1:1: (VI_1) the virtual router id must be set", "b.conf:3:23: virtual_router_id '256' is invalid: must be an integer in 1..255"],
            Errors(r));
        Assert.Empty(r.Configuration.VrrpInstances);
    }

    private static string Vs(string body) => $"virtual_server 198.51.100.100 80 {{\n{body}\n    real_server 198.51.100.2 80 {{\n        TCP_CHECK {{\n        }}\n    }}\n}}\n";

    [Theory]
    [InlineData("    delay_loop abc", "b.conf:2:16: delay_loop 'abc' is invalid: must be seconds in 0.000001..4294967295")]
    [InlineData("    delay_loop 0", "b.conf:2:16: delay_loop '0' is invalid: must be seconds in 0.000001..4294967295")]
    [InlineData("    lb_algo fastest", "b.conf:2:13: Invalid lvs_scheduler 'fastest' - ignoring")]
    [InlineData("    lb_kind FOO", "b.conf:2:13: unknown [FOO] routing method for virtual server")]
    [InlineData("    lb_kind TUN type gue", "b.conf:2:13: gue tunnels require port, otherwise cannot have port.")]
    [InlineData("    persistence_timeout 2678401", "b.conf:2:25: persistence_timeout '2678401' is invalid: must be an integer in 1..2678400")]
    [InlineData("    persistence_granularity 255.0.255.0", "b.conf:2:29: persistence_granularity '255.0.255.0' is not a contiguous netmask (not supported)")]
    [InlineData("    persistence_granularity 129", "b.conf:2:29: persistence_granularity '129' is invalid: must be an IPv4 netmask or a prefix length 1..128")]
    [InlineData("    protocol ICMP", "b.conf:2:14: Unknown protocol ICMP - ignoring")]
    [InlineData("    quorum 0", "b.conf:2:12: quorum '0' is invalid: must be an integer in 1..4294967295")]
    [InlineData("    weight -1", "b.conf:2:12: weight '-1' is invalid: must be an integer in 0..2147483647")]
    [InlineData("    connect_timeout 1.0000001", "b.conf:2:21: connect_timeout '1.0000001' is invalid: must be seconds in 0.000001..4294.967295")]
    public void Parse_BadVirtualServerValue_ReportsPosition(string line, string expected)
    {
        var r = Parse(Vs(line));
        Assert.Equal([expected], Errors(r));
        Assert.Single(r.Configuration.VirtualServers);
    }

    [Theory]
    [InlineData("weight 2147483648", "b.conf:3:12: weight '2147483648' is invalid: must be an integer in 0..2147483647")]
    [InlineData("uthreshold x", "b.conf:3:16: uthreshold 'x' is invalid: must be an integer in 0..4294967295")]
    [InlineData("inhibit_on_failure maybe", "b.conf:3:24: inhibit_on_failure 'maybe' is invalid: must be true|on|yes or false|off|no")]
    [InlineData("HTTP_GET {\n url {\n path /\n digest 123\n }\n }", "b.conf:6:9: digest '123' is invalid: must be 32 hex digits (MD5)")]
    [InlineData("HTTP_GET {\n url {\n path /\n status_code 200 600\n }\n }", "b.conf:6:18: status_code '600' is invalid: must be 100..599 or a range a-b of them")]
    [InlineData("HTTP_GET {\n url {\n path /\n status_code 300-200\n }\n }", "b.conf:6:14: status_code '300-200' is invalid: must be 100..599 or a range a-b of them")]
    [InlineData("TCP_CHECK {\n connect_port 65536\n }", "b.conf:4:15: connect_port '65536' is invalid: must be an integer in 0..65535")]
    [InlineData("retry 0", "b.conf:3:11: retry '0' is invalid: must be an integer in 1..4294967295")]
    [InlineData("TCP_CHECK {\n retry -1\n }", "b.conf:4:8: retry '-1' is invalid: must be an integer in 0..4294967295")]
    [InlineData("DNS_CHECK {\n type PTR\n }", "b.conf:4:7: DNS_CHECK type 'PTR' is invalid: must be one of A NS CNAME SOA MX TXT AAAA RRSIG DNSKEY")]
    public void Parse_BadRealServerValue_ReportsPosition(string line, string expected)
    {
        var r = Parse($"virtual_server 198.51.100.100 80 {{\n  real_server 198.51.100.2 80 {{\n    {line}\n  }}\n}}\n");
        Assert.Equal([expected], Errors(r));
    }

    [Fact]
    public void Parse_RealServerPortOutOfRange_ReportsAndDropsIt()
    {
        var r = Parse("virtual_server 198.51.100.100 80 {\n  real_server 198.51.100.2 70000 {\n  }\n}\n");
        Assert.Equal(["b.conf:2:28: real server port '70000' is invalid: must be an integer in 0..65535"], Errors(r));
        Assert.Equal("b.conf:1:1: Virtual server 198.51.100.100:80 has no real servers - ignoring", Only(r, ConfigSeverity.Warning));
        Assert.Empty(r.Configuration.VirtualServers);
    }

    [Fact]
    public void Parse_UnknownKeyword_IsWarnedAndBlockSkipped()
    {
        var r = Parse(MinimalInstance + "    frobnicate 1 {\n        priority 7\n    }\n}\n");
        Assert.True(r.Success);
        Assert.Equal("b.conf:4:5: unknown keyword 'frobnicate' skipped", Only(r, ConfigSeverity.Warning));
        Assert.Equal(100, Assert.Single(r.Configuration.VrrpInstances).Priority);
    }

    [Fact]
    public void Parse_UnsupportedKeyword_IsWarnedWithPosition()
    {
        var r = Parse("static_ipaddress {\n  192.0.2.1/24 dev eth0\n}\n" + MinimalInstance + "    dont_track_primary\n}\n");
        Assert.True(r.Success);
        Assert.Equal(
            ["b.conf:1:1: unsupported keyword 'static_ipaddress' skipped", "b.conf:7:5: unsupported keyword 'dont_track_primary' skipped"],
            r.Warnings.Select(w => w.ToString()));
    }

    [Fact]
    public void Parse_UnknownTopLevelKeyword_IsWarned()
    {
        var r = Parse("vrrp_instanse VI_1 {\n}\n");
        Assert.Equal("b.conf:1:1: unknown keyword 'vrrp_instanse' skipped", Only(r, ConfigSeverity.Warning));
    }

    [Fact]
    public void Parse_BlockKeywordWithoutBlock_IsError()
    {
        var r = Parse("virtual_server 198.51.100.100 80\nglobal_defs {\n}\n");
        Assert.Equal("b.conf:1:1: 'virtual_server' needs a '{' block", Only(r, ConfigSeverity.Error));
    }

    [Fact]
    public void Parse_ValueKeywordWithBlock_IsError()
    {
        var r = Parse("global_defs {\n  router_id {\n    X\n  }\n}\n");
        Assert.Equal("b.conf:2:3: 'router_id' does not take a '{' block; block skipped", Only(r, ConfigSeverity.Error));
    }

    [Fact]
    public void Parse_UnmatchedQuote_ReportsQuotePosition()
    {
        var r = Parse("vrrp_script chk {\n  script \"/bin/true\n}\n");
        Assert.Equal("b.conf:2:10: Unmatched quote: '\"/bin/true'", Only(r, ConfigSeverity.Error));
    }

    [Fact]
    public void Parse_MissingIncludeFile_IsErrorAtFileName()
    {
        var r = Parse("global_defs {\n}\ninclude   /nonexistent/fulcrum/extra.conf\n");
        Assert.Equal("b.conf:3:11: include file '/nonexistent/fulcrum/extra.conf' not found", Only(r, ConfigSeverity.Error));
    }

    [Fact]
    public void Parse_IncludeGlobMatchingNothing_IsWarning()
    {
        var r = Parse("include /nonexistent/fulcrum/*.conf\n");
        Assert.True(r.Success);
        Assert.Equal("b.conf:1:9: No config files matched '/nonexistent/fulcrum/*.conf'.", Only(r, ConfigSeverity.Warning));
    }

    [Fact]
    public void Load_IncludeLoop_IsErrorNotStackOverflow()
    {
        var dir = Directory.CreateTempSubdirectory("fulcrum-cfg-");
        try
        {
            var a = Path.Combine(dir.FullName, "a.conf");
            var b = Path.Combine(dir.FullName, "b.conf");
            File.WriteAllText(a, "global_defs {\n  router_id A\n}\ninclude b.conf\n");
            File.WriteAllText(b, "# back to a\ninclude a.conf\n");
            var r = KeepalivedConfig.Load(a);
            Assert.Equal($"{b}:2:9: include loop: '{a}' is already being read", Only(r, ConfigSeverity.Error));
            Assert.Equal("A", r.Configuration.Global.RouterId);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Load_MissingFile_IsDiagnosticNotException()
    {
        var r = KeepalivedConfig.Load("/nonexistent/fulcrum/keepalived.conf");
        Assert.False(r.Success);
        var e = Assert.Single(r.Errors);
        Assert.Equal(("/nonexistent/fulcrum/keepalived.conf", 1, 1), (e.File, e.Line, e.Column));
        Assert.StartsWith("cannot read configuration file:", e.Message, StringComparison.Ordinal);
        Assert.Same(KeepalivedConfiguration.Empty, r.Configuration);
    }

    [Fact]
    public void Parse_InvalidVirtualServerAddress_IsErrorAndSkipped()
    {
        var r = Parse("virtual_server 198.51.100 80 {\n  real_server 198.51.100.2 80 {\n  }\n}\n");
        Assert.Equal(["b.conf:1:16: Invalid virtual server IP address 198.51.100 - skipping"], Errors(r));
        Assert.Empty(r.Configuration.VirtualServers);
    }

    [Fact]
    public void Parse_VirtualServerGroupMissing_IsError()
    {
        var r = Parse("virtual_server group NOPE {\n  real_server 198.51.100.2 80 {\n  }\n}\n");
        Assert.Equal(["b.conf:1:1: Virtual server group NOPE doesn't exist - ignoring virtual server"], Errors(r));
    }

    [Theory]
    [InlineData("198.51.100.10-5 80", "b.conf:2:3: Address range end is not greater than address range start - 198.51.100.10-5 - skipping")]
    [InlineData("198.51.100.10/24 80", "b.conf:2:3: Address mask bits not empty - 198.51.100.10/24 - skipping")]
    [InlineData("198.51.100.20-198.51.100.10 80", "b.conf:2:3: Address range end is less than address range start - 198.51.100.20-198.51.100.10 - skipping")]
    [InlineData("fwmark 1 inet5", "b.conf:2:12: fwmark '1' family inet5 unknown - ignoring")]
    public void Parse_BadVirtualServerGroupEntry_ReportsPosition(string entry, string expected)
    {
        var r = Parse($"virtual_server_group G {{\n  {entry}\n  198.51.100.1 80\n}}\n");
        Assert.Equal([expected], Errors(r));
        Assert.Single(Assert.Single(r.Configuration.VirtualServerGroups).Entries);
    }

    [Fact]
    public void Parse_TrackScriptNotDefined_IsWarnedAndDropped()
    {
        var r = Parse(MinimalInstance + "    track_script {\n        chk_missing\n    }\n}\n");
        Assert.Equal("b.conf:5:9: (VI_1) track script chk_missing not found, ignoring...", Only(r, ConfigSeverity.Warning));
        Assert.Empty(Assert.Single(r.Configuration.VrrpInstances).TrackScripts);
    }

    [Fact]
    public void Parse_SyncGroupUnknownInstance_IsWarned()
    {
        var r = Parse("vrrp_sync_group G {\n  group {\n    VI_X\n  }\n}\n");
        Assert.Equal("b.conf:3:5: Virtual router VI_X specified in sync group G doesn't exist - ignoring", Only(r, ConfigSeverity.Warning));
    }

    [Fact]
    public void Diagnostics_AreInFileOrder()
    {
        var r = Parse(MinimalInstance + "    priority 0\n    bogus\n}\nvirtual_server 198.51.100.1 80 {\n  lb_algo x\n  real_server 198.51.100.2 80 {\n  }\n}\n");
        var lines = r.Diagnostics.Select(d => d.Line).ToList();
        Assert.Equal(lines.Order().ToList(), lines);
        Assert.Equal(3, r.Diagnostics.Count);
    }
    [Fact]
    public void Parse_DuplicateVirtualServer_IsErrorButOtherProtocolIsNot()
    {
        const string Rs = " real_server 198.51.100.2 53 {\n }\n}\n";
        var r = Parse("virtual_server 198.51.100.1 53 {\n" + Rs + "virtual_server 198.51.100.1 53 {\n protocol UDP\n" + Rs + "virtual_server 198.51.100.1 53 {\n" + Rs);
        Assert.Equal(["b.conf:10:1: Virtual server 198.51.100.1:53 is already defined at b.conf:1:1 - skipping"], Errors(r));
        Assert.Equal(2, r.Configuration.VirtualServers.Count);
    }

    [Fact]
    public void Parse_RealServerFamilyMismatch_SkippedUnlessTunnel()
    {
        var r = Parse("virtual_server 198.51.100.1 80 {\n real_server 2001:db8::2 80 {\n }\n real_server 2001:db8::3 80 {\n  lvs_method TUN\n }\n}\n");
        Assert.Equal(["b.conf:2:14: Address family of virtual server and real server 2001:db8::2 don't match - skipping real server."], Errors(r));
        Assert.Equal(IPAddress.Parse("2001:db8::3"), Assert.Single(Assert.Single(r.Configuration.VirtualServers).RealServers).Address);
    }

    [Fact]
    public void Parse_SyncGroupUnknownInstance_WarnedAtMemberName()
    {
        var r = Parse("vrrp_sync_group G {\n  group { VI_X }\n}\n");
        Assert.Equal("b.conf:2:11: Virtual router VI_X specified in sync group G doesn't exist - ignoring", Only(r, ConfigSeverity.Warning));
    }
}
