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
