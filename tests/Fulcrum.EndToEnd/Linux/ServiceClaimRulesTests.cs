using System.Net;
using System.Net.Sockets;
using Fulcrum.Balancing;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Linux;

public class ServiceClaimRulesTests
{
    [Fact]
    public void Install_UdpService_RingSeesDatagramButLocalSocketDoesNot()
    {
        using var ns = new TwoNamespaces();
        using var ring = NetworkNamespace.RunIn(ns.A, () => new PacketRing(NetInterface.GetIndex(TwoNamespaces.Interface)));
        using var claimed = NetworkNamespace.RunIn(ns.A, () => PacketRingTests.BoundUdp(TwoNamespaces.AddressA, 40010));
        using var unclaimed = NetworkNamespace.RunIn(ns.A, () => PacketRingTests.BoundUdp(TwoNamespaces.AddressA, 40011));
        claimed.ReceiveTimeout = 500;
        var rules = new ServiceClaimRules();
        NetworkNamespace.RunIn(ns.A, () => rules.Install(TwoNamespaces.Interface, [(IpProtocol.Udp, TwoNamespaces.AddressA, (ushort)40010)]));
        Assert.True(NetworkNamespace.RunIn(ns.A, () => rules.Exists(TwoNamespaces.Interface)));

        byte[] marker = PacketRingTests.Marker();
        NetworkNamespace.RunIn(ns.B, () => PacketRingTests.SendUdp(TwoNamespaces.AddressA, 40010, marker));
        var handler = new PacketRingTests.FindMarker(marker);
        Assert.True(PacketRingTests.PollUntil(ring, ref handler, TimeSpan.FromSeconds(5)), "the ring missed the claimed datagram");
        var timeout = Assert.Throws<SocketException>(() => claimed.Receive(new byte[64]));
        Assert.Equal(SocketError.TimedOut, timeout.SocketErrorCode);

        // Other ports on the same address still belong to the stack.
        byte[] other = PacketRingTests.Marker();
        NetworkNamespace.RunIn(ns.B, () => PacketRingTests.SendUdp(TwoNamespaces.AddressA, 40011, other));
        Assert.Equal(other.Length, unclaimed.Receive(new byte[64]));

        Assert.True(NetworkNamespace.RunIn(ns.A, () => rules.RemoveStale(TwoNamespaces.Interface)));
        Assert.False(NetworkNamespace.RunIn(ns.A, () => rules.Exists(TwoNamespaces.Interface)));
        byte[] after = PacketRingTests.Marker();
        NetworkNamespace.RunIn(ns.B, () => PacketRingTests.SendUdp(TwoNamespaces.AddressA, 40010, after));
        Assert.Equal(after.Length, claimed.Receive(new byte[64]));
    }

    [Fact]
    public void Install_Twice_ReplacesTheWholeSet()
    {
        using var ns = new TwoNamespaces();
        var rules = new ServiceClaimRules();
        var vip = IPAddress.Parse("198.51.100.100");
        NetworkNamespace.RunIn(ns.A, () => rules.Install(TwoNamespaces.Interface, [(IpProtocol.Tcp, vip, (ushort)80), (IpProtocol.Udp, vip, (ushort)53)]));
        NetworkNamespace.RunIn(ns.A, () => rules.Install(TwoNamespaces.Interface, [(IpProtocol.Tcp, vip, (ushort)443)]));

        string listing = TwoNamespaces.Run("ip", "netns", "exec", ns.A, "nft", "list", "table", "netdev", ServiceClaimRules.TableName(TwoNamespaces.Interface));
        Assert.Contains("198.51.100.100 . tcp . 443", listing, StringComparison.Ordinal);
        Assert.DoesNotContain(". 80", listing, StringComparison.Ordinal);
        Assert.DoesNotContain(". 53", listing, StringComparison.Ordinal);
        Assert.Contains("priority -500", listing, StringComparison.Ordinal);

        NetworkNamespace.RunIn(ns.A, rules.Remove);
        Assert.False(NetworkNamespace.RunIn(ns.A, () => rules.Exists(TwoNamespaces.Interface)));
    }

    [Fact]
    public void RemoveStale_NoTable_ReturnsFalse()
    {
        using var ns = new TwoNamespaces();
        var rules = new ServiceClaimRules();

        Assert.False(NetworkNamespace.RunIn(ns.A, () => rules.RemoveStale(TwoNamespaces.Interface)));
    }
}
