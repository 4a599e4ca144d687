using System.Diagnostics;
using System.Globalization;
using Fulcrum.Vrrp;
using Xunit.Abstractions;

namespace Fulcrum.EndToEnd.Vrrp;

/// <summary>
/// Fulcrum's VRRP against Debian's keepalived on one bridge, same VRID and VIP, VRRPv2 (1 s adverts, PASS
/// auth) and VRRPv3 (0.5 s adverts, so a busy CI machine does not cause false failovers): exactly one holds
/// the VIP; a killed master is replaced after Master_Down; a cleanly stopped one after Skew_Time only
/// (priority 0); a returning higher priority preempts.
/// </summary>
public sealed class KeepalivedInteropTests(ITestOutputHelper output)
{
    public static TheoryData<int, string> Versions => new() { { 2, "1" }, { 3, "0.5" } };

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task FulcrumMaster_KeepalivedBackup_OneVipCleanStopHandsOverAndPreemptReturns(int version, string advert)
    {
        var interval = TimeSpan.FromSeconds(double.Parse(advert, CultureInfo.InvariantCulture));
        using var net = new VrrpTopology(output);
        net.StartKeepalived("b", VrrpTopology.Config(version, 100, advert));
        var fulcrum = await net.StartFulcrumAsync("a", VrrpTopology.Config(version, 150, advert));

        VrrpTopology.WaitFor(() => net.HasVip("a") && VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Master, TimeSpan.FromSeconds(15), "Fulcrum (150) MASTER with the VIP");
        VrrpTopology.Holds(() => net.HasVip("a") && !net.HasVip("b"), (4 * interval) + TimeSpan.FromSeconds(1), "the VIP on a only");

        var clock = Stopwatch.StartNew();
        await net.StopFulcrumAsync(fulcrum);
        VrrpTopology.WaitFor(() => net.HasVip("b"), TimeSpan.FromSeconds(10), "keepalived takes the VIP after Fulcrum's priority-0 advert");
        var takeover = clock.Elapsed;
        output.WriteLine($"v{version}: clean-stop takeover in {takeover.TotalMilliseconds:0} ms");
        Assert.False(net.HasVip("a"), "a stopped service leaves no VIP behind");
        Assert.True(takeover < 3 * interval, $"takeover took {takeover}, not Skew_Time (priority 0), but at least 3 adverts");

        fulcrum = await net.StartFulcrumAsync("a", VrrpTopology.Config(version, 150, advert));
        VrrpTopology.WaitFor(
            () => net.HasVip("a") && !net.HasVip("b") && VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Master,
            TimeSpan.FromSeconds(15),
            "Fulcrum (150) preempts keepalived (100)");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task KeepalivedMaster_FulcrumBackup_KillThenPreemptThenCleanStop(int version, string advert)
    {
        var interval = TimeSpan.FromSeconds(double.Parse(advert, CultureInfo.InvariantCulture));
        using var net = new VrrpTopology(output);
        var keepalived = net.StartKeepalived("b", VrrpTopology.Config(version, 150, advert));
        var fulcrum = await net.StartFulcrumAsync("a", VrrpTopology.Config(version, 100, advert));

        VrrpTopology.WaitFor(() => net.HasVip("b"), TimeSpan.FromSeconds(15), "keepalived (150) MASTER with the VIP");
        VrrpTopology.WaitFor(() => VrrpTopology.First(fulcrum)?.Master?.ToString() == VrrpTopology.Addresses["b"], TimeSpan.FromSeconds(5), "Fulcrum sees keepalived as master");
        VrrpTopology.Holds(
            () => net.HasVip("b") && !net.HasVip("a") && VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Backup,
            (4 * interval) + TimeSpan.FromSeconds(1),
            "the VIP on b only, Fulcrum BACKUP");

        var clock = Stopwatch.StartNew();
        keepalived.Kill();
        VrrpTopology.WaitFor(() => net.HasVip("a"), TimeSpan.FromSeconds(10), "Fulcrum takes the VIP after SIGKILL");
        var takeover = clock.Elapsed;
        output.WriteLine($"v{version}: SIGKILL takeover in {takeover.TotalMilliseconds:0} ms");
        VrrpTopology.WaitFor(() => VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Master, TimeSpan.FromSeconds(1), "Fulcrum reports MASTER");
        Assert.True(takeover >= 2 * interval, $"takeover after {takeover}: a crash sends no priority 0, so Master_Down (3 adverts + skew) must run");

        keepalived = net.StartKeepalived("b", VrrpTopology.Config(version, 150, advert));
        VrrpTopology.WaitFor(
            () => net.HasVip("b") && !net.HasVip("a") && VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Backup,
            TimeSpan.FromSeconds(15),
            "keepalived (150) preempts Fulcrum (100)");

        // SIGTERM on a thread: keepalived sends priority 0 first and takes a while to exit after it.
        clock.Restart();
        var stopping = Task.Run(keepalived.Terminate);
        VrrpTopology.WaitFor(() => net.HasVip("a"), TimeSpan.FromSeconds(10), "Fulcrum takes the VIP after keepalived's priority-0 advert");
        takeover = clock.Elapsed;
        await stopping;
        output.WriteLine($"v{version}: clean-stop takeover in {takeover.TotalMilliseconds:0} ms");
        Assert.True(takeover < 3 * interval, $"takeover took {takeover}: priority 0 should cut it to Skew_Time");
    }
}

/// <summary>unicast_src_ip / unicast_peer against keepalived: adverts go to the peer, not 224.0.0.18.</summary>
public sealed class KeepalivedUnicastTests(ITestOutputHelper output)
{
    [Fact]
    public async Task UnicastPeers_FulcrumMasterThenCleanStop_KeepalivedTakesOverFast()
    {
        using var net = new VrrpTopology(output);
        net.StartKeepalived("b", VrrpTopology.Config(3, 100, "0.5", unicastFrom: "b"));
        var fulcrum = await net.StartFulcrumAsync("a", VrrpTopology.Config(3, 150, "0.5", unicastFrom: "a"));
        VrrpTopology.WaitFor(
            () => net.HasVip("a") && VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Master,
            TimeSpan.FromSeconds(15),
            "Fulcrum (150) MASTER over unicast");
        VrrpTopology.Holds(() => net.HasVip("a") && !net.HasVip("b"), TimeSpan.FromSeconds(2), "keepalived hears the unicast adverts and stays BACKUP");

        var clock = Stopwatch.StartNew();
        await net.StopFulcrumAsync(fulcrum);
        VrrpTopology.WaitFor(() => net.HasVip("b"), TimeSpan.FromSeconds(5), "keepalived takes over after the unicast priority-0 advert");
        output.WriteLine($"unicast clean-stop takeover in {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(1500), $"took {clock.Elapsed}: priority 0 should cut it to Skew_Time, below 3 adverts");
    }
}
