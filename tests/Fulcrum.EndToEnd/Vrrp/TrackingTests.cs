using Fulcrum.Vrrp;
using Xunit.Abstractions;

namespace Fulcrum.EndToEnd.Vrrp;

/// <summary>track_script, track_interface and notify scripts, with keepalived as the peer.</summary>
public sealed class TrackingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task TrackScriptFails_PriorityDropsBelowKeepalived_KeepalivedTakesOverAndNotifyRuns()
    {
        using var net = new VrrpTopology(output);
        string healthy = Path.Combine(net.TempDirectory, "healthy");
        string notified = Path.Combine(net.TempDirectory, "notified");
        File.WriteAllText(healthy, "");
        string config = $$"""
            vrrp_script chk {
                script "test -f {{healthy}}"
                interval 1
                fall 2
                rise 2
            }
            vrrp_instance VI_1 {
                state BACKUP
                interface eth0
                virtual_router_id 51
                priority 150
                advert_int 0.5
                version 3
                track_script {
                    chk weight -60
                }
                notify_master "touch {{notified}}"
                notify "sh -c 'echo $3 $4 >> {{notified}}.log' --"
                virtual_ipaddress {
                    {{VrrpTopology.Vip}}/32
                }
            }
            """;
        net.StartKeepalived("b", VrrpTopology.Config(3, 100, "0.5"));
        var fulcrum = await net.StartFulcrumAsync("a", config);
        VrrpTopology.WaitFor(() => net.HasVip("a") && !net.HasVip("b"), TimeSpan.FromSeconds(15), "Fulcrum (150) MASTER");
        VrrpTopology.WaitFor(() => File.Exists(notified), TimeSpan.FromSeconds(5), "notify_master ran");

        File.Delete(healthy);
        VrrpTopology.WaitFor(
            () => net.HasVip("b") && !net.HasVip("a") && VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Backup,
            TimeSpan.FromSeconds(10),
            "keepalived (100) takes over from Fulcrum at 150-60");
        Assert.Equal((byte)90, VrrpTopology.First(fulcrum)?.Priority);

        File.WriteAllText(healthy, "");
        VrrpTopology.WaitFor(() => net.HasVip("a") && !net.HasVip("b"), TimeSpan.FromSeconds(10), "Fulcrum back at 150 preempts");
        VrrpTopology.WaitFor(() => File.Exists(notified + ".log") && File.ReadAllText(notified + ".log").Contains("BACKUP 90", StringComparison.Ordinal), TimeSpan.FromSeconds(5), "notify got STATE PRIORITY");
    }

    [Fact]
    public async Task TrackedInterfaceDown_FaultDropsVip_RecoversToMaster()
    {
        using var net = new VrrpTopology(output);

        // Track the bridge port's peer: eth0 loses carrier when the switch side goes down. weight 0 → FAULT.
        string config = VrrpTopology.Config(3, 150, "0.2").Replace("    virtual_ipaddress {", "    track_interface {\n        eth0\n    }\n    virtual_ipaddress {", StringComparison.Ordinal);
        var fulcrum = await net.StartFulcrumAsync("a", config);
        VrrpTopology.WaitFor(() => VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Master && net.HasVip("a"), TimeSpan.FromSeconds(10), "Fulcrum MASTER");

        net.SetConnected("a", connected: false);
        VrrpTopology.WaitFor(() => VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Fault, TimeSpan.FromSeconds(5), "Fulcrum in FAULT");
        Assert.False(net.HasVip("a"), "a FAULT instance holds no VIP");

        net.SetConnected("a", connected: true);
        VrrpTopology.WaitFor(() => VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Master, TimeSpan.FromSeconds(10), "Fulcrum back to MASTER");
    }
}
