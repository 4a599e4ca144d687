using Fulcrum.Vrrp;

namespace Fulcrum.Tests.Vrrp;

public class GratuitousArpTests
{
    [Fact]
    public void Write_Vip_BroadcastArpRequestForItself()
    {
        var frame = new byte[GratuitousArp.FrameLength];
        int n = GratuitousArp.Write(frame, 0x02_00_5E_10_20_30, 0xC6336464);
        Assert.Equal(42, n);
        Assert.Equal(
            "ffffffffffff" + "02005e102030" + "0806"      // Ethernet: broadcast from our MAC, ARP
            + "0001" + "0800" + "06" + "04" + "0001"      // Ethernet/IPv4, request
            + "02005e102030" + "c6336464"                // sender: our MAC, the VIP
            + "ffffffffffff" + "c6336464",               // target: broadcast, the VIP
            Convert.ToHexStringLower(frame));
    }
}

public class ArpConflictTests
{
    private const ulong OurMac = 0x02_00_00_00_00_0A;
    private const ulong OtherMac = 0x02_00_00_00_00_0B;
    private const uint Vip = 0xC6336464;

    [Theory]
    [InlineData(OtherMac, Vip, true)]
    [InlineData(OurMac, Vip, false)]
    [InlineData(OtherMac, 0xC633640Cu, false)]
    public void IsConflict_ArpFromSender_OnlyForeignClaimsOnOurAddresses(ulong senderMac, uint sender, bool expected)
    {
        var frame = new byte[GratuitousArp.FrameLength];
        GratuitousArp.Write(frame, senderMac, sender);
        Assert.Equal(expected, GratuitousArp.IsConflict(frame, [Vip], OurMac, out uint address));
        Assert.Equal(expected ? Vip : 0, address);
    }

    [Fact]
    public void IsConflict_NotArp_False()
    {
        var frame = new byte[GratuitousArp.FrameLength];
        GratuitousArp.Write(frame, OtherMac, Vip);
        frame[13] = 0x00; // EtherType 0x0800
        Assert.False(GratuitousArp.IsConflict(frame, [Vip], OurMac, out _));
    }
}

public class NeighborAdvertisementConflictTests
{
    private const ulong OurMac = 0x02_00_00_00_00_0A;
    private const ulong OtherMac = 0x02_00_00_00_00_0B;
    private static readonly UInt128 Vip = new(0x2001_0DB8_0100_0000, 0x100);

    private static byte[] Na(ulong mac, UInt128 target)
    {
        var frame = new byte[UnsolicitedNeighborAdvertisement.FrameLength];
        UnsolicitedNeighborAdvertisement.Write(frame, mac, target);
        return frame;
    }

    [Fact]
    public void IsConflict_ForeignNaForVip_TrueWithItsMac()
    {
        Assert.True(UnsolicitedNeighborAdvertisement.IsConflict(Na(OtherMac, Vip), [Vip], OurMac, out var address, out ulong claimant));
        Assert.Equal(Vip, address);
        Assert.Equal(OtherMac, claimant);
    }

    [Fact]
    public void IsConflict_OurOwnNa_False() =>
        Assert.False(UnsolicitedNeighborAdvertisement.IsConflict(Na(OurMac, Vip), [Vip], OurMac, out _, out _));

    [Fact]
    public void IsConflict_NaForAnotherAddress_False() =>
        Assert.False(UnsolicitedNeighborAdvertisement.IsConflict(Na(OtherMac, Vip + 1), [Vip], OurMac, out _, out _));

    [Fact]
    public void IsConflict_TargetLinkLayerOptionNamesAnotherHost_ThatHostIsTheClaimant()
    {
        // Sent through our MAC (a bridge, a proxy) but the option says who answers for the address.
        var frame = Na(OurMac, Vip);
        Fulcrum.Packets.EthernetFrame.WriteMac(frame.AsSpan(6), 0x02_00_00_00_00_0C);
        Fulcrum.Packets.EthernetFrame.WriteMac(frame.AsSpan(14 + 40 + 26), OtherMac);
        Assert.True(UnsolicitedNeighborAdvertisement.IsConflict(frame, [Vip], OurMac, out _, out ulong claimant));
        Assert.Equal(OtherMac, claimant);
    }

    [Theory]
    [InlineData(14 + 7, 254)]   // hop limit below 255: not from the link (RFC 4861 §7.1.2)
    [InlineData(14 + 40, 135)]  // a Neighbor Solicitation
    [InlineData(14 + 6, 17)]    // not ICMPv6
    [InlineData(12, 0x08)]      // not IPv6
    public void IsConflict_NotAValidNa_False(int offset, byte value)
    {
        var frame = Na(OtherMac, Vip);
        frame[offset] = value;
        Assert.False(UnsolicitedNeighborAdvertisement.IsConflict(frame, [Vip], OurMac, out _, out _));
    }

    [Fact]
    public void IsConflict_Truncated_False() =>
        Assert.False(UnsolicitedNeighborAdvertisement.IsConflict(Na(OtherMac, Vip).AsSpan(0, 70), [Vip], OurMac, out _, out _));
}
