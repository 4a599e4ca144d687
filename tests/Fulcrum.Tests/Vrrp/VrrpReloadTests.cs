using Fulcrum.Config;
using Fulcrum.Vrrp;

namespace Fulcrum.Tests.Vrrp;

public class VrrpReloadTests
{
    private const string Base = """
        vrrp_instance VI_1 {
            interface eth0
            virtual_router_id 51
            priority 150
            advert_int 1
            virtual_ipaddress {
                198.51.100.100/32
            }
        }
        vrrp_instance VI_2 {
            interface eth0
            virtual_router_id 52
            priority 100
            advert_int 1
            virtual_ipaddress {
                198.51.100.101/32
            }
        }
        """;

    [Fact]
    public void ActionFor_SameTextMovedLines_Keep()
    {
        var a = Parse(Base);
        var b = Parse("\n\n# moved down\n" + Base);
        Assert.NotEqual(a[0].Location, b[0].Location);
        Assert.Equal(VrrpReloadAction.Keep, VrrpReload.ActionFor(a[0], b[0]));
        Assert.Empty(VrrpReload.Differences(a[0], b[0]));
    }

    [Theory]
    [InlineData("priority 150", "priority 90", "priority")]
    [InlineData("advert_int 1", "advert_int 2", "advert_int")]
    [InlineData("198.51.100.100/32", "198.51.100.100/32\n        198.51.100.110/32", "virtual_ipaddress")]
    [InlineData("priority 150", "priority 150\n    nopreempt", "preempt")]
    [InlineData("priority 150", "priority 150\n    unicast_peer {\n        198.51.100.12\n    }", "unicast_peer")]
    [InlineData("priority 150", "priority 150\n    authentication {\n        auth_type PASS\n        auth_pass secret\n    }", "authentication")]
    [InlineData("priority 150", "priority 150\n    track_interface {\n        eth1\n    }", "track_interface")]
    public void ActionFor_SettingChanged_UpdateNamesIt(string from, string to, string keyword)
    {
        var a = Parse(Base);
        var b = Parse(ReplaceFirst(Base, from, to));
        Assert.Equal(VrrpReloadAction.Update, VrrpReload.ActionFor(a[0], b[0]));
        Assert.Equal([keyword], VrrpReload.Differences(a[0], b[0]));
    }

    [Theory]
    [InlineData("virtual_router_id 51", "virtual_router_id 61")]
    [InlineData("interface eth0", "interface eth1")]
    [InlineData("advert_int 1", "advert_int 1\n    version 3")]
    public void ActionFor_OtherVirtualRouter_Replace(string from, string to)
    {
        var a = Parse(Base);
        var b = Parse(ReplaceFirst(Base, from, to));
        Assert.Equal(VrrpReloadAction.Replace, VrrpReload.ActionFor(a[0], b[0]));
    }

    [Fact]
    public void Pair_ByNameThenByVirtualRouter_RenamedInstanceContinues()
    {
        var running = Parse(Base);
        var next = Parse(Base.Replace("VI_2", "VI_RENAMED", StringComparison.Ordinal).Replace("VI_1", "VI_0", StringComparison.Ordinal)
            + "\nvrrp_instance VI_3 {\n    interface eth0\n    virtual_router_id 53\n    virtual_ipaddress {\n        198.51.100.102/32\n    }\n}\n");
        Assert.Equal([0, 1, -1], VrrpReload.Pair(running, next));
    }

    [Fact]
    public void Pair_InstanceGone_NotPointedAt()
    {
        var running = Parse(Base);
        var next = Parse(Base[..(Base.IndexOf("vrrp_instance VI_2", StringComparison.Ordinal))]);
        Assert.Equal([0], VrrpReload.Pair(running, next));
    }

    [Fact]
    public void Except_AddedAndRemovedAddresses_OnlyTheDifference()
    {
        var a = Parse(Base)[0].VirtualIpAddresses;
        var b = Parse(ReplaceFirst(Base, "198.51.100.100/32", "198.51.100.110/32\n        198.51.100.100/32"))[0].VirtualIpAddresses;
        var added = VrrpReload.Except(b, a);
        Assert.Equal("198.51.100.110", Assert.Single(added).Address.ToString());
        Assert.Empty(VrrpReload.Except(a, b));
    }

    private static IReadOnlyList<Fulcrum.Config.VrrpInstance> Parse(string text)
    {
        var r = KeepalivedConfig.Parse(text, "t.conf");
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        return r.Configuration.VrrpInstances;
    }

    private static string ReplaceFirst(string text, string from, string to)
    {
        int i = text.IndexOf(from, StringComparison.Ordinal);
        return text[..i] + to + text[(i + from.Length)..];
    }
}
