using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Packets;

public class ArpPacketTests
{
    [Fact]
    public void TryCreate_ArpRequest_ReadsAllFields()
    {
        ulong sender = FrameBuilder.Mac("02:00:00:00:00:0a");
        byte[] frame = new FrameBuilder()
            .Arp(ArpPacket.OperationRequest, sender, FrameBuilder.Ip("198.51.100.10"), 0, FrameBuilder.Ip("198.51.100.1"))
            .Build();
        Assert.True(EthernetFrame.TryCreate(frame, out EthernetFrame eth));
        Assert.Equal(EtherTypes.Arp, eth.EtherType);

        Assert.True(ArpPacket.TryCreate(eth.Payload, out ArpPacket arp));

        Assert.Equal(ArpPacket.OperationRequest, arp.Operation);
        Assert.Equal(sender, arp.SenderMac);
        Assert.Equal(new byte[] { 2, 0, 0, 0, 0, 0x0a }, arp.SenderHardwareAddress.ToArray());
        Assert.Equal(FrameBuilder.Ip("198.51.100.10"), arp.SenderProtocolAddress);
        Assert.Equal(0UL, arp.TargetMac);
        Assert.Equal(FrameBuilder.Ip("198.51.100.1"), arp.TargetProtocolAddress);
    }

    [Fact]
    public void Setters_BuildReply_RoundTrip()
    {
        byte[] buffer = new byte[ArpPacket.Length];
        ArpPacket.WriteEthernetIpv4Preamble(buffer);
        Assert.True(ArpPacket.TryCreate(buffer, out ArpPacket arp));

        arp.Operation = ArpPacket.OperationReply;
        arp.SenderMac = 0x0000_0200_0000_0001;
        arp.SenderProtocolAddress = 0xC633_6401; // 198.51.100.1
        arp.TargetMac = 0x0000_0200_0000_000a;
        arp.TargetProtocolAddress = 0xC633_640A;

        Assert.Equal(
            new byte[] { 0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 1, 198, 51, 100, 1, 2, 0, 0, 0, 0, 0x0a, 198, 51, 100, 10 },
            buffer);
    }

    [Fact]
    public void TryCreate_Short_ReturnsFalse()
    {
        byte[] buffer = new byte[ArpPacket.Length - 1];
        ArpPacket.WriteEthernetIpv4Preamble(buffer);

        Assert.False(ArpPacket.TryCreate(buffer, out _));
    }

    [Theory]
    [InlineData(1, 6)]   // hardware type 6 (IEEE 802), not Ethernet
    [InlineData(3, 0x86)] // protocol type 0x0886
    [InlineData(4, 8)]   // hlen 8
    [InlineData(5, 16)]  // plen 16
    public void TryCreate_NotEthernetIpv4_ReturnsFalse(int index, byte value)
    {
        byte[] buffer = new byte[ArpPacket.Length];
        ArpPacket.WriteEthernetIpv4Preamble(buffer);
        buffer[index] = value;

        Assert.False(ArpPacket.TryCreate(buffer, out _));
    }
}
