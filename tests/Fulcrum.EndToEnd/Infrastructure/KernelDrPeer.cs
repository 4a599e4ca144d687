using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Fulcrum.Lab;
using Fulcrum.RealServerSetup;

namespace Fulcrum.EndToEnd.Infrastructure;

/// <summary>
/// A stateless LVS-DR director made of one nftables netdev ingress table: frames to VIP:80/TCP and
/// VIP:5353/UDP get the destination MAC of a real server (jhash of the client's address and port, so
/// a flow sticks to one), the source MAC of the director, and leave by the interface they came in on.
/// The reference the Fulcrum data plane is compared with, and proof that the lab itself is DR-sound.
/// It counts frames from the VIP reaching the director, which DR says must stay 0.
/// </summary>
public sealed partial class KernelDrPeer : IDisposable
{
    public const string Table = "fulcrum_dr_peer";
    private readonly LabCluster _lab;
    private readonly string _host;

    private KernelDrPeer(LabCluster lab, string host)
    {
        _lab = lab;
        _host = host;
    }

    /// <summary>Installs the table on <paramref name="host"/>'s eth0 for rs1..rs<paramref name="backends"/>.</summary>
    public static KernelDrPeer Install(LabCluster lab, int backends = 3, string host = "lb1")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(backends, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(backends, LabCluster.RealServerHosts.Count);
        var map = new StringBuilder();
        for (int i = 0; i < backends; i++)
        {
            map.Append(CultureInfo.InvariantCulture, $"{(i == 0 ? "" : ", ")}{i} : {LabAddresses.MacOf(LabCluster.RealServerHosts[i])}");
        }

        var vip = LabAddresses.Vip;
        var mac = LabAddresses.MacOf(host);
        var rules = $$"""
            table netdev {{Table}} {
              chain ingress {
                type filter hook ingress device "eth0" priority -500; policy accept;
                ip saddr {{vip}} counter
                ip daddr {{vip}} tcp dport {{LabCluster.HttpPort}} counter ether saddr set {{mac}} ether daddr set jhash ip saddr . tcp sport mod {{backends}} map { {{map}} } fwd to "eth0"
                ip daddr {{vip}} udp dport {{LabCluster.UdpEchoPort}} counter ether saddr set {{mac}} ether daddr set jhash ip saddr . udp sport mod {{backends}} map { {{map}} } fwd to "eth0"
              }
            }

            """;
        var args = new List<string> { "netns", "exec", lab.NamespaceOf(host), "nft", "-f", "-" };
        ExternalCommand.Run("ip", args, rules).EnsureSuccess("installing the nftables DR peer");
        return new KernelDrPeer(lab, host);
    }

    /// <summary>Frames with the VIP as source address that reached the director (replies crossing it).</summary>
    public long RepliesSeen() => Counters()[0];

    /// <summary>Frames the peer forwarded (TCP and UDP).</summary>
    public long Forwarded()
    {
        var c = Counters();
        return c[1] + c[2];
    }

    public void Dispose() => _lab.Exec(_host, "nft", "delete", "table", "netdev", Table);

    private List<long> Counters()
    {
        var text = _lab.Exec(_host, "nft", "list", "table", "netdev", Table).EnsureSuccess("nft list").StdOut;
        var list = new List<long>();
        foreach (Match m in CounterPackets().Matches(text))
        {
            list.Add(long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }

        return list;
    }

    [GeneratedRegex(@"counter packets (\d+)")]
    private static partial Regex CounterPackets();
}
