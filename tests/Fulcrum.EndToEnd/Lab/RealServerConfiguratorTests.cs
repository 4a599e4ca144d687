using System.Net;
using System.Security.Cryptography;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.RealServerSetup;

namespace Fulcrum.EndToEnd.Lab;

/// <summary>The real server configurator against a real kernel, in a fresh namespace of its own.</summary>
public sealed class RealServerConfiguratorTests : IDisposable
{
    private static readonly IPAddress Vip = IPAddress.Parse("198.51.100.100");
    private readonly string _ns = "fl" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3)) + "-rs";
    private readonly string _state = Path.Combine(Path.GetTempPath(), "fulcrum-rs-e2e-" + Guid.NewGuid().ToString("N") + ".json");

    public RealServerConfiguratorTests()
    {
        Root.Require();
        Ip("netns", "add", _ns);
        try
        {
            IpBatch("""
                link set lo up
                link add eth0 type veth peer name peer0
                link set peer0 up
                link set eth0 up
                addr add 198.51.100.2/24 dev eth0
                route add default via 198.51.100.254
                """);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        ExternalCommand.Run("ip", ["netns", "del", _ns]);
        File.Delete(_state);
    }

    [Fact]
    public void UpThenDown_FreshNamespace_RestoresEverything()
    {
        var before = Snapshot();
        var rs = new RealServerConfigurator(SystemRealServerHost.InNamespace(_ns), _state);

        rs.Up(Vip);

        var up = Snapshot();
        Assert.Contains("inet 198.51.100.100/32", up, StringComparison.Ordinal);
        Assert.Contains("net.ipv4.conf.all.arp_ignore = 1", up, StringComparison.Ordinal);
        Assert.Contains("net.ipv4.conf.all.arp_announce = 2", up, StringComparison.Ordinal);
        Assert.Contains("net.ipv4.conf.eth0.arp_ignore = 1", up, StringComparison.Ordinal);
        Assert.Contains("net.ipv4.conf.eth0.arp_announce = 2", up, StringComparison.Ordinal);

        Assert.True(rs.Down(Vip));

        Assert.Equal(before, Snapshot());
        Assert.False(File.Exists(_state));
    }

    [Fact]
    public void Down_VipAndSysctlPresetBeforeUp_LeavesThem()
    {
        Ip("-n", _ns, "addr", "add", "198.51.100.100/32", "dev", "lo");
        ExternalCommand.Run("ip", ["netns", "exec", _ns, "sysctl", "-q", "-w", "net.ipv4.conf.eth0.arp_announce=2"]).EnsureSuccess("sysctl");
        var before = Snapshot();
        var rs = new RealServerConfigurator(SystemRealServerHost.InNamespace(_ns), _state);

        rs.Up(Vip, "eth0");
        rs.Down(Vip);

        Assert.Equal(before, Snapshot());
        Assert.Contains("inet 198.51.100.100/32", before, StringComparison.Ordinal);
    }

    [Fact]
    public void NamespaceKey_InNamespace_DiffersFromCurrent() =>
        Assert.NotEqual(SystemRealServerHost.Current.NamespaceKey, SystemRealServerHost.InNamespace(_ns).NamespaceKey);

    private string Snapshot()
    {
        var addrs = ExternalCommand.Run("ip", ["-n", _ns, "-4", "-o", "addr", "show"]).EnsureSuccess("ip addr").StdOut;
        var sysctls = ExternalCommand.Run("ip", ["netns", "exec", _ns, "sysctl", "net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce",
            "net.ipv4.conf.eth0.arp_ignore", "net.ipv4.conf.eth0.arp_announce", "net.ipv4.conf.lo.arp_ignore", "net.ipv4.conf.default.arp_ignore"])
            .EnsureSuccess("sysctl").StdOut;
        return addrs + sysctls;
    }

    private static void Ip(params string[] args) => ExternalCommand.Run("ip", args).EnsureSuccess("ip " + string.Join(' ', args));

    private void IpBatch(string batch) => ExternalCommand.Run("ip", ["-n", _ns, "-batch", "-"], batch + "\n").EnsureSuccess("ip -batch");
}
