using System.Buffers.Binary;
using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Packets;

/// <summary>
/// Whole frames whose IPv4 and TCP/UDP checksums tcpdump -vv reported as correct ("cksum 0x9c80
/// (correct)", "udp sum ok"): a check independent of both Checksum and FrameBuilder. Both payloads
/// have odd lengths, so the zero-padding of the last byte is covered.
/// </summary>
public class ChecksumVectorTests
{
    // 203.0.113.10:40000 > 198.51.100.1:80 SYN, 4 NOP options, payload "GET / HTTP/1.0\r\n\r\n!" (19 bytes).
    private const string TcpFrame =
        "02000000000202000000000108004500003F1C4640004006B833CB00710AC6336401"
        + "9C400050000003E8000000006002FAF09C800000" + "01010101" + "474554202F20485454502F312E300D0A0D0A21";

    // 203.0.113.10:53000 > 198.51.100.1:53 UDP, payload "hello".
    private const string UdpFrame = "0200000000020200000000010800450000211C4640004011B846CB00710AC6336401CF080035000D868468656C6C6F";

    [Theory]
    [InlineData(TcpFrame, 0xB833, 0x9C80, 34 + 16)]
    [InlineData(UdpFrame, 0xB846, 0x8684, 34 + 6)]
    public void CompleteTransportChecksum_TcpdumpVerifiedFrame_ReproducesBothChecksums(string hex, int ipChecksum, int l4Checksum, int l4ChecksumAt)
    {
        byte[] frame = Convert.FromHexString(hex);
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));
        Assert.True(Ipv4Header.TryCreate(frame.AsSpan(p.L3Offset), out Ipv4Header ip));
        Assert.Equal(ipChecksum, ip.HeaderChecksum);
        Assert.Equal(l4Checksum, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l4ChecksumAt)));
        Assert.True(Checksum.VerifyTransportChecksum(frame, in p));

        ip.RecomputeChecksum();
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l4ChecksumAt), 0xDEAD);
        Checksum.CompleteTransportChecksum(frame, in p);

        Assert.Equal(ipChecksum, ip.HeaderChecksum);
        Assert.Equal(l4Checksum, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l4ChecksumAt)));
    }

    [Fact]
    public void FrameBuilder_SameFrames_MatchesTcpdumpVerifiedBytes()
    {
        byte[] tcp = new FrameBuilder().WithIpv4("203.0.113.10", "198.51.100.1").Tcp(40000, 80, TcpFlags.Syn)
            .WithTcpOptions(1).WithPayload("GET / HTTP/1.0\r\n\r\n!").Build();
        byte[] udp = new FrameBuilder().WithIpv4("203.0.113.10", "198.51.100.1").Udp(53000, 53).WithPayload("hello").Build();

        Assert.Equal(TcpFrame, Convert.ToHexString(tcp));
        Assert.Equal(UdpFrame, Convert.ToHexString(udp));
    }
}
