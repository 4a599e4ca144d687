using System.Buffers.Binary;
using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Packets;

// The builder is shared by other folders' tests; these pin the parts they rely on.
public class FrameBuilderTests
{
    [Fact]
    public void Ip_Mac_ParseToHostOrderNumbers()
    {
        Assert.Equal(0xC633_6401u, FrameBuilder.Ip("198.51.100.1"));
        Assert.Equal(0x0000_02AB_CDEF_0001UL, FrameBuilder.Mac("02:ab:cd:ef:00:01"));
        Assert.Equal(((UInt128)0x2001_0db8UL << 96) | 1, FrameBuilder.Ip6("2001:db8::1"));
        Assert.Throws<ArgumentException>(() => FrameBuilder.Ip("2001:db8::1"));
        Assert.Throws<ArgumentException>(() => FrameBuilder.Mac("02:ab"));
    }

    [Fact]
    public void WithPartialL4Checksum_FieldHoldsFoldedPseudoHeaderSum()
    {
        byte[] frame = new FrameBuilder().WithIpv4("203.0.113.10", "198.51.100.1").Tcp(1, 2).WithPayload(3).WithPartialL4Checksum().Build();

        ushort field = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(34 + 16));

        Assert.Equal(Checksum.Fold(Checksum.PseudoHeaderSum(0xCB00_710A, 0xC633_6401, IpProtocols.Tcp, 23)), field);
    }

    [Fact]
    public void WithFragment_ClearsDontFragmentAndSetsWord()
    {
        byte[] frame = new FrameBuilder().WithFragment(moreFragments: true, 10).Build();

        Assert.Equal(0x2000 | 10, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(14 + 6)));
    }

    [Fact]
    public void PadTo_TruncateTo_SetFrameLength()
    {
        Assert.Equal(60, new FrameBuilder().Udp(1, 2).PadTo(60).Build().Length);
        Assert.Equal(54, new FrameBuilder().PadTo(20).Build().Length);
        Assert.Equal(30, new FrameBuilder().TruncateTo(30).Build().Length);
    }

    [Fact]
    public void Build_Defaults_AreAValidTcpSynFromClientToVip()
    {
        byte[] frame = new FrameBuilder().Build();

        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));
        Assert.Equal(FrameBuilder.Ip("203.0.113.10"), p.SourceAddress);
        Assert.Equal(FrameBuilder.Ip("198.51.100.1"), p.DestinationAddress);
        Assert.Equal(40000, p.SourcePort);
        Assert.Equal(80, p.DestinationPort);
        Assert.Equal(TcpFlags.Syn, p.TcpFlags);
        Assert.True(Checksum.VerifyTransportChecksum(frame, in p));
    }
}
