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
