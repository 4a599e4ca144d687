using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;

namespace Fulcrum.EndToEnd.Vrrp;

/// <summary>
/// SIGHUP on the real daemons (`fulcrum run -f` in the lab's lb1 and lb2): a changed priority, an added VIP
/// and a removed instance are applied, and the VIP that both files keep on lb1 never moves: a client probe
/// (a new connection every 20 ms) sees no failure and the client's kernel retransmits nothing across the reload.
/// </summary>
public sealed class ReloadTests : IClassFixture<LabFixture>
{
    private const string Kept = "198.51.100.100";
    private const string Added = "198.51.100.102";
    private const string Removed = "198.51.100.101";

    private readonly LabCluster _lab;

    public ReloadTests(LabFixture fixture) => _lab = fixture.Lab;

    [Fact]
    public void Sighup_PriorityChangedVipAddedInstanceRemoved_KeptVipNeverMoves()
    {
        string lb1Conf = Write("lb1", Config(150, withAdded: false, withSecond: true));
        string lb2Conf = Write("lb2", Config(100, withAdded: false, withSecond: true));
        var lb2 = LabDirector.Start(_lab, "lb2", "-f", lb2Conf);
        var lb1 = LabDirector.Start(_lab, "lb1", "-f", lb1Conf);
        try
        {
            Wait.For(() => Holds("lb1", Kept) && Holds("lb1", Removed) && !Holds("lb2", Kept), "lb1 MASTER of both instances", 15);
            using var probe = new ProbeLoop(_lab.NamespaceOf("client"), LabAddresses.Vip);
            Wait.For(() => probe.Count(TimeSpan.Zero, probe.Now).Total > 10, "the probe running", 5);
            var before = probe.Now;
            Assert.Equal(0, probe.Count(TimeSpan.Zero, before).Failed);

            // Both directors get the new file (VI_1 carries one more VIP, VI_2 is gone; lb1's priority 150
            // -> 160), within one advert interval of each other, as an operator's config push does.
            File.WriteAllText(lb2Conf, Config(100, withAdded: true, withSecond: false));
            File.WriteAllText(lb1Conf, Config(160, withAdded: true, withSecond: false));
            var reloadAt = probe.Now;
            long retransmitted = Retransmissions();
            lb2.Process.Signal("HUP");
            lb1.Process.Signal("HUP");

            Wait.For(() => Holds("lb1", Added), "lb1 adds the new VIP", 10);
            Wait.For(() => !Holds("lb1", Removed), "lb1 removes the removed instance's VIP", 10);
            Wait.For(() => lb1.Status().StdOut.Contains("160", StringComparison.Ordinal), "lb1 shows priority 160", 10);

            // Hold a while after the reload: well past 3 advert intervals, where a flap through BACKUP would show.
            Thread.Sleep(TimeSpan.FromSeconds(5));
            var after = probe.Now;
            var (total, failed) = probe.Count(reloadAt, after);
            retransmitted = Retransmissions() - retransmitted;
            Assert.True(total > 100, $"only {total} probes ran");
            Assert.True(failed == 0 && retransmitted == 0, $"{failed} of {total} probes failed after the SIGHUP "
                + $"({probe.Failures(reloadAt, after)}), {retransmitted} TCP retransmissions by the client; lb1 drops: {Drops(lb1)}");
            Assert.True(Holds("lb1", Kept), "lb1 keeps the unchanged VIP");
            Assert.False(Holds("lb2", Kept) || Holds("lb2", Added), "lb2 stays BACKUP for VI_1");
            Assert.False(Holds("lb2", Removed), "lb2 has no VI_2 either after its reload");
            string log = lb1.Process.ReadLog();
            Assert.Contains("(VI_1) changed by the reload", log, StringComparison.Ordinal);
            Assert.Contains("(VI_2) removed by the reload", log, StringComparison.Ordinal);
            Assert.DoesNotContain("(VI_1) Entering BACKUP", log[log.IndexOf("SIGHUP", StringComparison.Ordinal)..], StringComparison.Ordinal);
        }
        finally
        {
            lb1.Process.Stop();
            lb2.Process.Stop();
        }
    }

    [Fact]
    public void Sighup_InstanceRemovedOnMasterOnly_BackupTakesItsVipAfterPriorityZero()
    {
        string lb1Conf = Write("lb1", Config(150, withAdded: false, withSecond: true));
        string lb2Conf = Write("lb2", Config(100, withAdded: false, withSecond: true));
        var lb2 = LabDirector.Start(_lab, "lb2", "-f", lb2Conf);
        var lb1 = LabDirector.Start(_lab, "lb1", "-f", lb1Conf);
        try
        {
            Wait.For(() => Holds("lb1", Removed) && !Holds("lb2", Removed), "lb1 MASTER of VI_2", 15);
            File.WriteAllText(lb1Conf, Config(150, withAdded: false, withSecond: false));
            lb1.Process.Signal("HUP");

            // Priority 0 from lb1: lb2 takes over after its skew time (0.6 s at priority 100), well before
            // the 3.6 s Master_Down a silent master would need.
            var took = VrrpTopology.WaitFor(() => Holds("lb2", Removed) && !Holds("lb1", Removed), TimeSpan.FromSeconds(3), "lb2 takes VI_2's VIP");
            Assert.True(took < TimeSpan.FromSeconds(3), $"took {took}");
            Assert.True(Holds("lb1", Kept) && !Holds("lb2", Kept), "VI_1 stays on lb1");
        }
        finally
        {
            lb1.Process.Stop();
            lb2.Process.Stop();
        }
    }

    private long Retransmissions() =>
        ProbeLoop.Retransmissions(_lab.Exec("client", "cat", "/proc/net/netstat", "/proc/net/snmp").StdOut);

    /// <summary>The director's nonzero drop counters from `fulcrum status`, to tell a dropped SYN from a client stall.</summary>
    private static string Drops(LabDirector director)
    {
        var text = director.Status().StdOut;
        int from = text.IndexOf("Drops:", StringComparison.Ordinal), to = text.IndexOf("Workers:", StringComparison.Ordinal);
        if (from < 0 || to < from)
            return text;
        var nonzero = text[(from + 6)..to].Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.EndsWith(" 0", StringComparison.Ordinal));
        return string.Join(", ", nonzero);
    }

    private bool Holds(string host, string address) =>
        _lab.Exec(host, "ip", "-4", "-o", "addr", "show", "dev", "eth0").StdOut.Contains(" " + address + "/32", StringComparison.Ordinal);

    private string Write(string host, string text)
    {
        var path = Path.Combine(_lab.StateDirectory, $"reload-{host}.conf");
        File.WriteAllText(path, text);
        return path;
    }

    private static string Config(int priority, bool withAdded, bool withSecond) => $$"""
        vrrp_instance VI_1 {
            state BACKUP
            interface eth0
            virtual_router_id 51
            priority {{priority}}
            advert_int 1
            virtual_ipaddress {
                {{Kept}}/32 dev eth0
                {{(withAdded ? Added + "/32 dev eth0" : "")}}
            }
        }
        {{(withSecond ? $$"""
        vrrp_instance VI_2 {
            state BACKUP
            interface eth0
            virtual_router_id 52
            priority {{priority}}
            advert_int 1
            virtual_ipaddress {
                {{Removed}}/32 dev eth0
            }
        }
        """ : "")}}
        virtual_server {{Kept}} 80 {
            lb_algo rr
            lb_kind DR
            protocol TCP
            real_server 198.51.100.2 80 { weight 1 }
            real_server 198.51.100.3 80 { weight 1 }
            real_server 198.51.100.4 80 { weight 1 }
        }
        """;
}
