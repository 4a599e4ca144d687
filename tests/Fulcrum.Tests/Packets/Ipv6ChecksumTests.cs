using System.Buffers.Binary;
using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Packets;

public class Ipv6ChecksumTests
{
    private const string Client = "2001:db8:113::10";
    private const string Vip = "2001:db8:100::100";

    [Theory]
    [InlineData(true, 0)]
    [InlineData(true, 1)]
    [InlineData(true, 1401)]
    [InlineData(false, 0)]
    [InlineData(false, 77)]
    public void CompleteTransportChecksum_PartialIpv6Frame_EqualsTheFullChecksum(bool tcp, int payload)
    {
        byte[] correct = Build(tcp, payload).Build();
        byte[] partial = Build(tcp, payload).WithPartialL4Checksum().Build();
        Assert.NotEqual(correct, partial);
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(partial, out ParsedPacket p, out _));

        Checksum.CompleteTransportChecksum(partial, in p);

        Assert.Equal(correct, partial);
        Assert.True(Checksum.VerifyTransportChecksum(partial, in p));
    }

    [Fact]
    public void VerifyTransportChecksum_Ipv6BadChecksum_False()
    {
        byte[] frame = Build(tcp: true, 10).WithBadL4Checksum().Build();
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));
        Assert.False(Checksum.VerifyTransportChecksum(frame, in p));
    }

    [Fact]
    public void VerifyTransportChecksum_Ipv6UdpZeroChecksum_IsInvalid_UnlikeIpv4()
    {
        // RFC 8200 section 8.1: a zero UDP checksum over IPv6 must be discarded.
        byte[] v6 = Build(tcp: false, 10).WithoutUdpChecksum().Build();
        byte[] v4 = new FrameBuilder().Udp(5000, 53).WithPayload(10).WithoutUdpChecksum().Build();
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(v6, out ParsedPacket p6, out _));
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(v4, out ParsedPacket p4, out _));

        Assert.False(Checksum.VerifyTransportChecksum(v6, in p6));
        Assert.True(Checksum.VerifyTransportChecksum(v4, in p4));
    }

    [Fact]
    public void PseudoHeaderSum6_MatchesWordByWordSum()
    {
        UInt128 s = FrameBuilder.Ip6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
        UInt128 d = FrameBuilder.Ip6(Vip);
        Span<byte> bytes = stackalloc byte[40];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, s);
        BinaryPrimitives.WriteUInt128BigEndian(bytes[16..], d);
        BinaryPrimitives.WriteUInt32BigEndian(bytes[32..], 70000);
        bytes[39] = IpProtocols.Tcp;

        Assert.Equal(Checksum.Fold(Checksum.Add(bytes)), Checksum.Fold(Checksum.PseudoHeaderSum6(s, d, IpProtocols.Tcp, 70000)));
    }

    private static FrameBuilder Build(bool tcp, int payload)
    {
        var b = new FrameBuilder().WithIpv6(Client, Vip).WithPayload(payload);
        return tcp ? b.Tcp(40000, 80, TcpFlags.Ack) : b.Udp(5000, 5353);
    }
}
