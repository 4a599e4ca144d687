using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Fulcrum.Linux;
using Fulcrum.Vrrp;
using Xunit.Abstractions;

namespace Fulcrum.EndToEnd.Vrrp;

/// <summary>
/// VRRPv3 over IPv6 (RFC 5798) between Fulcrum and Debian's keepalived (native_ipv6, a 2001:db8:: VIP):
/// exactly one holds the VIP; keepalived accepts Fulcrum's adverts and priority 0 (checksum with the IPv6
/// pseudo-header, link-local source, hop limit 255), Fulcrum accepts keepalived's; a Fulcrum taking over
/// sends an unsolicited Neighbor Advertisement (override) for the VIP from its MAC.
/// </summary>
public sealed class Ipv6InteropTests(ITestOutputHelper output)
{
    private const string Vip6 = "2001:db8:100::100";

    [Fact]
    public async Task Ipv6_FulcrumMaster_KeepalivedBackup_OneVipCleanStopHandsOver()
    {
        using var net = new VrrpTopology(output);
        net.StartKeepalived("b", Config(100, keepalived: true));
        var fulcrum = await net.StartFulcrumAsync("a", Config(150, keepalived: false));

        VrrpTopology.WaitFor(() => HasVip6(net, "a") && VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Master, TimeSpan.FromSeconds(15), "Fulcrum (150) MASTER with the IPv6 VIP");

        // Four intervals with the VIP on a only: keepalived accepts Fulcrum's adverts (else it would take over).
        VrrpTopology.Holds(() => HasVip6(net, "a") && !HasVip6(net, "b"), TimeSpan.FromSeconds(3), "the IPv6 VIP on a only");

        await net.StopFulcrumAsync(fulcrum);
        var took = VrrpTopology.WaitFor(() => HasVip6(net, "b"), TimeSpan.FromSeconds(10), "keepalived takes the IPv6 VIP after Fulcrum's priority-0 advert");
        output.WriteLine($"clean-stop takeover by keepalived in {took.TotalMilliseconds:0} ms");
        Assert.True(took < TimeSpan.FromSeconds(1.5), $"took {took}: not skew time after priority 0, but Master_Down");
        Assert.False(HasVip6(net, "a"), "a stopped service leaves no VIP behind");
    }

    [Fact]
    public async Task Ipv6_KeepalivedMaster_FulcrumBackup_KillThenFulcrumTakesOverWithUnsolicitedNa()
    {
        using var net = new VrrpTopology(output);
        var keepalived = net.StartKeepalived("b", Config(150, keepalived: true));
        var fulcrum = await net.StartFulcrumAsync("a", Config(100, keepalived: false));

        VrrpTopology.WaitFor(() => HasVip6(net, "b"), TimeSpan.FromSeconds(15), "keepalived (150) MASTER with the IPv6 VIP");
        VrrpTopology.WaitFor(() => VrrpTopology.First(fulcrum)?.Master?.IsIPv6LinkLocal == true, TimeSpan.FromSeconds(5), "Fulcrum learns keepalived's link-local address as master");
        VrrpTopology.Holds(
            () => HasVip6(net, "b") && !HasVip6(net, "a") && VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Backup,
            TimeSpan.FromSeconds(3),
            "Fulcrum BACKUP, the VIP on b only");

        // Listen on b for IPv6 frames, then kill keepalived: Fulcrum takes over after Master_Down.
        using var listener = NetworkNamespace.RunIn(net.Namespace("b"), () => PacketListener.Open("eth0", 0x86DD));
        keepalived.Kill();
        VrrpTopology.WaitFor(() => HasVip6(net, "a") && VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Master, TimeSpan.FromSeconds(10), "Fulcrum takes over the IPv6 VIP");

        ulong mac = NetworkNamespace.RunIn(net.Namespace("a"), () => NetInterface.GetMac("eth0"));
        bool seen = SeesOverrideNa(listener, mac, TimeSpan.FromSeconds(3));
        Assert.True(seen, "no unsolicited Neighbor Advertisement for the VIP from a's MAC reached b");

        // A SIGKILLed keepalived leaves its VIP on b (it cannot clean up); the NA is what moves the hosts.
    }

    [Fact]
    public async Task Ipv6_ForeignNaForVip_MasterReassertsWithUnsolicitedNa()
    {
        using var net = new VrrpTopology(output);
        var fulcrum = await net.StartFulcrumAsync("a", Config(150, keepalived: false));
        VrrpTopology.WaitFor(() => HasVip6(net, "a") && VrrpTopology.First(fulcrum)?.State == VrrpInstanceState.Master, TimeSpan.FromSeconds(15), "Fulcrum MASTER with the IPv6 VIP");

        // b announces the VIP as its own (an override NA from its MAC, as a stale director after a split brain
        // would): a must notice and answer with its own override NA so the neighbours' caches point back at it.
        using var listener = NetworkNamespace.RunIn(net.Namespace("b"), () => PacketListener.Open("eth0", 0x86DD));
        ulong aMac = NetworkNamespace.RunIn(net.Namespace("a"), () => NetInterface.GetMac("eth0"));
        ulong bMac = NetworkNamespace.RunIn(net.Namespace("b"), () => NetInterface.GetMac("eth0"));
        NetworkNamespace.RunIn(net.Namespace("b"), () =>
        {
            using var socket = new RawFrameSocket("eth0");
            var frame = new byte[UnsolicitedNeighborAdvertisement.FrameLength];
            socket.Send(frame.AsSpan(0, UnsolicitedNeighborAdvertisement.Write(frame, bMac, VrrpSocket6.ToNumber(IPAddress.Parse(Vip6)))));
        });

        VrrpTopology.WaitFor(
            () => net.Log.Any(l => l.Contains("claimed by " + NetInterface.FormatMac(bMac), StringComparison.Ordinal)),
            TimeSpan.FromSeconds(5),
            "Fulcrum notices b's claim on the IPv6 VIP");
        Assert.True(SeesOverrideNa(listener, aMac, TimeSpan.FromSeconds(3)), "no re-asserting NA for the VIP from a's MAC reached b");
        Assert.Equal(VrrpInstanceState.Master, VrrpTopology.First(fulcrum)?.State);
        Assert.True(HasVip6(net, "a"));
    }

    /// <summary>Waits for an override NA for the VIP from <paramref name="mac"/> on <paramref name="listener"/> (all IPv6 frames).</summary>
    private static bool SeesOverrideNa(System.Net.Sockets.Socket listener, ulong mac, TimeSpan timeout)
    {
        var target = IPAddress.Parse(Vip6).GetAddressBytes();
        var buffer = new byte[2048];
        listener.ReceiveTimeout = 500;
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            int n;
            try
            {
                n = listener.Receive(buffer);
            }
            catch (SocketException)
            {
                continue;
            }

            // Ethernet 14 + IPv6 40: ICMPv6 (58) type 136 with the VIP as target, from that MAC, Override set.
            if (n >= 14 + 40 + 24 && buffer[14 + 6] == 58 && buffer[54] == 136
                && buffer.AsSpan(62, 16).SequenceEqual(target)
                && Packets.EthernetFrame.ReadMac(buffer.AsSpan(6)) == mac
                && (BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(58)) & UnsolicitedNeighborAdvertisement.FlagOverride) != 0)
                return true;
        }

        return false;
    }

    private static bool HasVip6(VrrpTopology net, string host) =>
        VrrpTopology.Run("ip", "-n", net.Namespace(host), "-6", "-o", "addr", "show", "dev", "eth0").Contains(" " + Vip6 + "/128", StringComparison.Ordinal);

    private static string Config(int priority, bool keepalived) => $$"""
        global_defs {
            router_id fv_test6
        }
        vrrp_instance VI_6 {
            state BACKUP
            interface eth0
            virtual_router_id 61
            priority {{priority}}
            advert_int 0.5
            version 3
            {{(keepalived ? "native_ipv6" : "")}}
            virtual_ipaddress {
                {{Vip6}}/128
            }
        }
        """;
}
