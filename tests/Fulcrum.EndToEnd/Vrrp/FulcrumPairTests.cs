using Fulcrum.Vrrp;
using Xunit.Abstractions;

namespace Fulcrum.EndToEnd.Vrrp;

/// <summary>Two Fulcrum VRRP services against each other.</summary>
public sealed class FulcrumPairTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(2, "1")]
    [InlineData(3, "0.2")]
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
