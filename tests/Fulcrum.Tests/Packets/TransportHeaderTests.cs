using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Packets;

public class TransportHeaderTests
{
    [Fact]
    public void TcpHeader_BuiltSegment_ReadsEveryField()
    {
        byte[] frame = new FrameBuilder()
            .Tcp(40001, 443, TcpFlags.Psh | TcpFlags.Ack)
            .WithSequence(0x01020304, 0xA0B0C0D0)
            .WithWindow(29200)
            .WithTcpOptions(2)
            .WithPayload(10)
            .Build();

        Assert.True(TcpHeader.TryCreate(frame.AsSpan(34), out TcpHeader tcp));

        Assert.Equal(40001, tcp.SourcePort);
        Assert.Equal(443, tcp.DestinationPort);
        Assert.Equal(0x01020304u, tcp.SequenceNumber);
        Assert.Equal(0xA0B0C0D0u, tcp.AcknowledgmentNumber);
        Assert.Equal(7, tcp.DataOffset);
        Assert.Equal(28, tcp.HeaderLength);
        Assert.Equal(TcpFlags.Psh | TcpFlags.Ack, tcp.Flags);
        Assert.Equal(29200, tcp.Window);
        Assert.Equal(0, tcp.UrgentPointer);
        Assert.NotEqual(0, tcp.Checksum);
    }

    [Fact]
    public void TcpHeader_Setters_WriteWireFormat()
    {
        byte[] bytes = new byte[20];
        bytes[12] = 0x50;
        Assert.True(TcpHeader.TryCreate(bytes, out TcpHeader tcp));

        tcp.SourcePort = 0x1234;
        tcp.DestinationPort = 80;
        tcp.SequenceNumber = 0xDEADBEEF;
        tcp.AcknowledgmentNumber = 1;
        tcp.DataOffset = 5;
        tcp.Flags = TcpFlags.Syn | TcpFlags.Ece | TcpFlags.Cwr;
        tcp.Window = 0xFFFF;
        tcp.Checksum = 0xABCD;
        tcp.UrgentPointer = 7;

        Assert.Equal(
            new byte[] { 0x12, 0x34, 0, 80, 0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 1, 0x50, 0xC2, 0xFF, 0xFF, 0xAB, 0xCD, 0, 7 },
            bytes);
    }

    [Theory]
    [InlineData(19, 5)]
    [InlineData(20, 4)]
    [InlineData(20, 6)]
    [InlineData(20, 0)]
    public void TcpHeader_TryCreate_Invalid_ReturnsFalse(int length, int dataOffset)
    {
        byte[] bytes = new byte[length];
        if (length > 12)
            bytes[12] = (byte)(dataOffset << 4);

        Assert.False(TcpHeader.TryCreate(bytes, out _));
    }

    [Fact]
    public void UdpHeader_RoundTrip()
    {
        byte[] frame = new FrameBuilder().Udp(5353, 53).WithPayload(12).Build();

        Assert.True(UdpHeader.TryCreate(frame.AsSpan(34), out UdpHeader udp));
        Assert.Equal(5353, udp.SourcePort);
        Assert.Equal(53, udp.DestinationPort);
        Assert.Equal(20, udp.DatagramLength);
        Assert.NotEqual(0, udp.Checksum);

        udp.SourcePort = 1;
        udp.DestinationPort = 2;
        udp.DatagramLength = 3;
        udp.Checksum = 4;
        Assert.Equal(new byte[] { 0, 1, 0, 2, 0, 3, 0, 4 }, frame[34..42]);
        Assert.False(UdpHeader.TryCreate(new byte[7], out _));
    }

    [Fact]
    public void IcmpHeader_RoundTrip()
    {
        byte[] frame = new FrameBuilder().Icmp(IcmpHeader.TypeDestinationUnreachable, IcmpHeader.CodeFragmentationNeeded, 1400).Build();

        Assert.True(IcmpHeader.TryCreate(frame.AsSpan(34), out IcmpHeader icmp));
        Assert.Equal(IcmpHeader.TypeDestinationUnreachable, icmp.Type);
        Assert.Equal(IcmpHeader.CodeFragmentationNeeded, icmp.Code);
        Assert.Equal(1400u, icmp.RestOfHeader);
        Assert.Equal(0xFFFF, Checksum.Fold(Checksum.Add(frame.AsSpan(34))));

        icmp.Type = IcmpHeader.TypeEchoReply;
        icmp.Code = 0;
        icmp.Checksum = 0;
        icmp.RestOfHeader = 0x00070009;
        icmp.Checksum = Checksum.Compute(frame.AsSpan(34));
        Assert.Equal(new byte[] { 0, 0 }, frame[34..36]);
        Assert.Equal(new byte[] { 0, 7, 0, 9 }, frame[38..42]);
        Assert.Equal(0xFFFF, Checksum.Fold(Checksum.Add(frame.AsSpan(34))));
        Assert.False(IcmpHeader.TryCreate(new byte[7], out _));
    }

    [Fact]
    public void Ipv6Header_RoundTrip()
    {
        UInt128 source = FrameBuilder.Ip6("2001:db8::10");
        UInt128 destination = FrameBuilder.Ip6("2001:db8:1::1");
        byte[] frame = new FrameBuilder().Ipv6(source, destination, IpProtocols.Tcp).WithPayload(20).Build();
        Assert.True(EthernetFrame.TryCreate(frame, out EthernetFrame eth));
        Assert.Equal(EtherTypes.Ipv6, eth.EtherType);

        Assert.True(Ipv6Header.TryCreate(eth.Payload, out Ipv6Header ip));
        Assert.Equal(6, ip.Version);
        Assert.Equal(20, ip.PayloadLength);
        Assert.Equal(IpProtocols.Tcp, ip.NextHeader);
        Assert.Equal(64, ip.HopLimit);
        Assert.Equal(source, ip.Source);
        Assert.Equal(destination, ip.Destination);
        Assert.Equal(0x20, frame[14 + 8]);
        Assert.Equal(0x10, frame[14 + 23]);

        ip.Destination = (UInt128)0x0102;
        ip.NextHeader = IpProtocols.Udp;
        ip.HopLimit = 1;
        ip.PayloadLength = 8;
        Assert.Equal(new byte[] { 0, 8, 17, 1 }, frame[18..22]);
        Assert.Equal(new byte[] { 1, 2 }, frame[(14 + 38)..(14 + 40)]);
        Assert.False(Ipv6Header.TryCreate(new byte[39], out _));
        Assert.False(Ipv6Header.TryCreate(frame.AsSpan(0, 40), out _));
    }
}
