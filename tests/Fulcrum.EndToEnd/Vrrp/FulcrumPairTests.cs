using Fulcrum.Vrrp;
using Xunit.Abstractions;

namespace Fulcrum.EndToEnd.Vrrp;

/// <summary>Two Fulcrum VRRP services against each other.</summary>
public sealed class FulcrumPairTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(2, "1")]
    [InlineData(3, "0.5")]
    public async Task EqualPriority_SplitBrainHeals_HigherAddressKeepsVip(int version, string advert)
    {
        using var net = new VrrpTopology(output);

        // Start apart, so both become MASTER (a split brain), then join them: RFC 5798 §6.4.3 makes the
        // router with the lower primary address (a, .11) step down and leaves b (.12) the master.
        net.SetConnected("b", connected: false);
        var a = await net.StartFulcrumAsync("a", VrrpTopology.Config(version, 100, advert));
        var b = await net.StartFulcrumAsync("b", VrrpTopology.Config(version, 100, advert));
        VrrpTopology.WaitFor(() => net.HasVip("a") && net.HasVip("b"), TimeSpan.FromSeconds(15), "both MASTER while apart");

        net.SetConnected("b", connected: true);
        VrrpTopology.WaitFor(
            () => !net.HasVip("a") && VrrpTopology.First(a)?.State == VrrpInstanceState.Backup,
            TimeSpan.FromSeconds(10),
            "a (.11) steps down");
        Assert.Equal(VrrpInstanceState.Master, VrrpTopology.First(b)?.State);
        VrrpTopology.Holds(() => net.HasVip("b") && !net.HasVip("a"), TimeSpan.FromSeconds(2), "b keeps the VIP, a stays BACKUP");
    }
}

/// <summary>A MASTER that sees another host claim its VIP (an ARP from a foreign MAC) re-asserts.</summary>
public sealed class ArpConflictTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ForeignArpForVip_MasterReassertsAndKeepsVip()
    {
        using var net = new VrrpTopology(output);
        var fulcrum = await net.StartFulcrumAsync("a", VrrpTopology.Config(3, 150, "0.2"));
        VrrpTopology.WaitFor(() => net.HasVip("a") && VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Master, TimeSpan.FromSeconds(10), "Fulcrum MASTER");

        // b announces the VIP as its own (a stale director after a kill, or a misconfigured host).
        VrrpTopology.Run("ip", "-n", net.Namespace("b"), "addr", "add", VrrpTopology.Vip + "/32", "dev", "eth0");
        VrrpTopology.Run("ip", "netns", "exec", net.Namespace("b"), "arping", "-U", "-c", "1", "-I", "eth0", "-s", VrrpTopology.Vip, VrrpTopology.Vip);

        VrrpTopology.WaitFor(() => net.Log.Any(l => l.Contains("claimed by", StringComparison.Ordinal)), TimeSpan.FromSeconds(5), "Fulcrum notices the foreign claim");
        Assert.Equal(VrrpInstanceState.Master, VrrpTopology.First(fulcrum)?.State);
        Assert.True(net.HasVip("a"));
    }
}

/// <summary>One broken instance does not take the others down.</summary>
public sealed class VrrpServiceRobustnessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task InstanceOnMissingInterface_LoggedAndSkipped_OthersRun()
    {
        using var net = new VrrpTopology(output);
        string config = VrrpTopology.Config(3, 150, "0.2")
            + "\nvrrp_instance VI_BROKEN {\n    interface nosuch0\n    virtual_router_id 52\n    advert_int 0.2\n    version 3\n    virtual_ipaddress {\n        198.51.100.101/32\n    }\n}\n";
        var fulcrum = await net.StartFulcrumAsync("a", config);
        VrrpTopology.WaitFor(() => net.HasVip("a") && VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Master, TimeSpan.FromSeconds(10), "VI_1 MASTER");
        Assert.Single(fulcrum.Instances);
        Assert.Contains(net.Log, l => l.Contains("(VI_BROKEN) cannot start", StringComparison.Ordinal));
    }
}
