using System.Net;
using Fulcrum.RealServerSetup;

namespace Fulcrum.Tests.Lab;

public sealed class RealServerConfiguratorTests : IDisposable
{
    private static readonly IPAddress Vip = IPAddress.Parse("198.51.100.100");
    private static readonly IPAddress Vip2 = IPAddress.Parse("198.51.100.101");
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fulcrum-rs-tests-" + Guid.NewGuid().ToString("N"));
    private readonly FakeRealServerHost _host = new();
    private readonly RealServerConfigurator _rs;

    public RealServerConfiguratorTests()
    {
        _rs = new RealServerConfigurator(_host, Path.Combine(_dir, "state.json"));
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void Up_FreshHost_AddsVipToLoAndSetsArpSysctlsOnAllAndDevice()
    {
        _rs.Up(Vip);

        Assert.Contains("198.51.100.100/32", _host.Addresses["lo"]);
        Assert.Equal("1", _host.Sysctls["net/ipv4/conf/all/arp_ignore"]);
        Assert.Equal("2", _host.Sysctls["net/ipv4/conf/all/arp_announce"]);
        Assert.Equal("1", _host.Sysctls["net/ipv4/conf/eth0/arp_ignore"]);
        Assert.Equal("2", _host.Sysctls["net/ipv4/conf/eth0/arp_announce"]);
        Assert.Equal("2", _host.Sysctls["net/ipv4/conf/all/rp_filter"]);
        Assert.Equal([Vip], _rs.Vips());
    }

    [Fact]
    public void UpThenDown_FreshHost_RestoresEverythingAndRemovesState()
    {
        var before = new Dictionary<string, string>(_host.Sysctls);

        _rs.Up(Vip);
        Assert.True(_rs.Down(Vip));

        Assert.Equal(before, _host.Sysctls);
        Assert.Equal(["127.0.0.1/8"], _host.Addresses["lo"]);
        Assert.False(File.Exists(_rs.StatePath));
    }

    [Fact]
    public void Down_VipAlreadyOnLoBeforeUp_LeavesIt()
    {
        _host.Addresses["lo"].Add("198.51.100.100/32");

        _rs.Up(Vip);
        _rs.Down(Vip);

        Assert.Contains("198.51.100.100/32", _host.Addresses["lo"]);
    }

    [Fact]
    public void Down_SysctlAlreadySetBeforeUp_LeavesIt()
    {
        _host.Sysctls["net/ipv4/conf/all/arp_ignore"] = "1";

        _rs.Up(Vip);
        _rs.Down(Vip);

        Assert.Equal("1", _host.Sysctls["net/ipv4/conf/all/arp_ignore"]);
        Assert.Equal("0", _host.Sysctls["net/ipv4/conf/eth0/arp_ignore"]);
    }

    [Fact]
    public void Down_SysctlChangedByOthersAfterUp_LeavesTheirValue()
    {
        _rs.Up(Vip);
        _host.Sysctls["net/ipv4/conf/all/arp_announce"] = "1";

        _rs.Down(Vip);

        Assert.Equal("1", _host.Sysctls["net/ipv4/conf/all/arp_announce"]);
        Assert.Equal("0", _host.Sysctls["net/ipv4/conf/all/arp_ignore"]);
    }

    [Fact]
    public void Down_OneOfTwoVips_KeepsSysctlsUntilTheLastGoes()
    {
        _rs.Up(Vip);
        _rs.Up(Vip2);

        _rs.Down(Vip);
        Assert.Equal("1", _host.Sysctls["net/ipv4/conf/all/arp_ignore"]);
        Assert.DoesNotContain("198.51.100.100/32", _host.Addresses["lo"]);
        Assert.Contains("198.51.100.101/32", _host.Addresses["lo"]);

        _rs.Down(Vip2);
        Assert.Equal("0", _host.Sysctls["net/ipv4/conf/all/arp_ignore"]);
        Assert.Equal(["127.0.0.1/8"], _host.Addresses["lo"]);
    }

    [Fact]
    public void Up_Twice_IsIdempotentAndDownStillRestoresOriginalValues()
    {
        _rs.Up(Vip);
        int writes = _host.Writes;
        _rs.Up(Vip);
        Assert.Equal(writes, _host.Writes);

        _rs.Down(Vip);
        Assert.Equal("0", _host.Sysctls["net/ipv4/conf/eth0/arp_ignore"]);
        Assert.DoesNotContain("198.51.100.100/32", _host.Addresses["lo"]);
    }

    [Fact]
    public void Down_NeverUp_ReturnsFalseAndChangesNothing()
    {
        Assert.False(_rs.Down(Vip));
        Assert.Equal(0, _host.Writes);
    }

    [Fact]
    public void Up_NoDeviceAndNoDefaultRoute_Throws()
    {
        _host.DefaultDevice = null;

        Assert.Throws<InvalidOperationException>(() => _rs.Up(Vip));
        Assert.Empty(_rs.Vips());
    }

    [Fact]
    public void Up_MissingDevice_ThrowsAndChangesNothing()
    {
        Assert.Throws<InvalidOperationException>(() => _rs.Up(Vip, "eth9"));

        Assert.Equal(0, _host.Writes);
        Assert.DoesNotContain("198.51.100.100/32", _host.Addresses["lo"]);
    }

    [Fact]
    public void Up_Ipv6Vip_AddsSlash128AndTouchesNoSysctl()
    {
        var v6 = IPAddress.Parse("2001:db8:100::100");

        _rs.Up(v6);
        Assert.Contains("2001:db8:100::100/128", _host.Addresses["lo"]);
        Assert.Equal(0, _host.Writes);

        _rs.Down(v6);
        Assert.DoesNotContain("2001:db8:100::100/128", _host.Addresses["lo"]);
    }

    [Fact]
    public void UpThenDown_Tun_PutsVipOnTunl0WithRpFilterOffThenRestores()
    {
        _rs.Up(Vip, "eth0", tun: true);

        Assert.Contains("198.51.100.100/32", _host.Addresses["tunl0"]);
        Assert.DoesNotContain("198.51.100.100/32", _host.Addresses["lo"]);
        Assert.True(_host.Links["tunl0"]);
        Assert.Equal("0", _host.Sysctls["net/ipv4/conf/all/rp_filter"]);
        Assert.Equal("0", _host.Sysctls["net/ipv4/conf/tunl0/rp_filter"]);

        _rs.Down(Vip);

        Assert.Empty(_host.Addresses["tunl0"]);
        Assert.False(_host.Links["tunl0"]);
        Assert.Equal("2", _host.Sysctls["net/ipv4/conf/all/rp_filter"]);
        Assert.Equal("1", _host.Sysctls["net/ipv4/conf/tunl0/rp_filter"]);
    }

    [Fact]
    public void Down_FromAnotherInstance_UsesTheStateFile()
    {
        _rs.Up(Vip);

        var other = new RealServerConfigurator(_host, _rs.StatePath);
        Assert.True(other.Down(Vip));

        Assert.Equal("0", _host.Sysctls["net/ipv4/conf/all/arp_ignore"]);
    }
}
