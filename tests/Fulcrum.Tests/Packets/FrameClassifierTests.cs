using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Packets;

public class FrameClassifierTests
{
    private static readonly uint Client = FrameBuilder.Ip("203.0.113.10");
    private static readonly uint Vip = FrameBuilder.Ip("198.51.100.1");

    public static TheoryData<string, DropReason> MalformedRows => new()
    {
        { "empty frame", DropReason.TooShort },
        { "13 bytes", DropReason.TooShort },
        { "802.1Q tag cut short", DropReason.TooShort },
        { "IPv4 header cut at 19 bytes", DropReason.Truncated },
        { "tagged IPv4 header cut at 19 bytes", DropReason.Truncated },
        { "IHL 4", DropReason.BadIhl },
        { "IHL 0", DropReason.BadIhl },
        { "IHL 15 beyond frame", DropReason.BadIhl },
        { "version 6 under IPv4 EtherType", DropReason.BadIhl },
        { "total length below header", DropReason.BadLength },
        { "total length beyond frame", DropReason.BadLength },
        { "frame cut inside payload", DropReason.BadLength },
        { "bad header checksum", DropReason.BadChecksum },
        { "more fragments", DropReason.Fragment },
        { "later fragment", DropReason.Fragment },
        { "UDP fragment", DropReason.Fragment },
        { "TCP header beyond total length", DropReason.Truncated },
        { "UDP header beyond total length", DropReason.Truncated },
        { "TCP data offset 4", DropReason.BadTcpHeader },
        { "TCP data offset 0", DropReason.BadTcpHeader },
        { "TCP data offset beyond total length", DropReason.BadTcpHeader },
    };

    [Theory]
    [MemberData(nameof(MalformedRows))]
    public void Classify_MalformedFrame_ReturnsMalformedWithReason(string row, DropReason expected)
    {
        byte[] frame = Malformed(row);

        FrameKind kind = FrameClassifier.Classify(frame, out ParsedPacket packet, out DropReason reason);

        Assert.Equal(FrameKind.Malformed, kind);
        Assert.Equal(expected, reason);
        Assert.Equal(default, packet);
    }

    private static byte[] Malformed(string row) => row switch
    {
        "empty frame" => [],
        "13 bytes" => new FrameBuilder().TruncateTo(13).Build(),
        "802.1Q tag cut short" => new FrameBuilder().WithVlan(10).TruncateTo(17).Build(),
        "IPv4 header cut at 19 bytes" => new FrameBuilder().TruncateTo(14 + 19).Build(),
        "tagged IPv4 header cut at 19 bytes" => new FrameBuilder().WithVlan(10).TruncateTo(18 + 19).Build(),
        "IHL 4" => new FrameBuilder().WithIhl(4).Build(),
        "IHL 0" => new FrameBuilder().WithIhl(0).Build(),
        "IHL 15 beyond frame" => new FrameBuilder().WithIhl(15).Build(),
        "version 6 under IPv4 EtherType" => new FrameBuilder().WithIpVersion(6).Build(),
        "total length below header" => new FrameBuilder().WithTotalLength(19).Build(),
        "total length beyond frame" => new FrameBuilder().WithTotalLength(1000).Build(),
        "frame cut inside payload" => new FrameBuilder().WithPayload(100).TruncateTo(100).Build(),
        "bad header checksum" => new FrameBuilder().WithBadIpChecksum().Build(),
        "more fragments" => new FrameBuilder().WithPayload(64).WithFragment(moreFragments: true, 0).Build(),
        "later fragment" => new FrameBuilder().WithPayload(64).WithFragment(moreFragments: false, 185).Build(),
        "UDP fragment" => new FrameBuilder().Udp(1, 2).WithFragment(moreFragments: true, 3).Build(),
        "TCP header beyond total length" => new FrameBuilder().WithTotalLength(20 + 19).Build(),
        "UDP header beyond total length" => new FrameBuilder().Udp(1, 2).WithTotalLength(20 + 7).Build(),
        "TCP data offset 4" => new FrameBuilder().WithTcpDataOffset(4).Build(),
        "TCP data offset 0" => new FrameBuilder().WithTcpDataOffset(0).Build(),
        "TCP data offset beyond total length" => new FrameBuilder().WithPayload(20).WithTcpDataOffset(15).Build(),
        _ => throw new ArgumentOutOfRangeException(nameof(row), row, null),
    };

    public static TheoryData<string> OtherRows => new()
    {
        "ARP request", "IPv6", "raw EtherType", "ICMP echo", "VRRP", "ICMP fragment", "QinQ", "802.1ad outer tag", "tagged ARP",
    };

    [Theory]
    [MemberData(nameof(OtherRows))]
    public void Classify_NotOurs_ReturnsOtherWithoutReason(string row)
    {
        byte[] frame = row switch
        {
            "ARP request" => new FrameBuilder().Arp(1, 0x0200_0000_0001, Client, 0, Vip).Build(),
            "IPv6" => new FrameBuilder().Ipv6(FrameBuilder.Ip6("2001:db8::2"), FrameBuilder.Ip6("2001:db8::1"), IpProtocols.Icmpv6).WithPayload(20).Build(),
            "raw EtherType" => new FrameBuilder().WithRawEtherType(0x88CC).WithPayload(46).Build(),
            "ICMP echo" => new FrameBuilder().Icmp(IcmpHeader.TypeEchoRequest, 0).Build(),
            "VRRP" => new FrameBuilder().WithIpProtocol(IpProtocols.Vrrp).WithPayload(20).Build(),
            "ICMP fragment" => new FrameBuilder().Icmp(IcmpHeader.TypeEchoRequest, 0).WithPayload(64).WithFragment(true, 0).Build(),
            "QinQ" => QinQ(0x8100),
            "802.1ad outer tag" => QinQ(0x88A8),
            "tagged ARP" => new FrameBuilder().WithVlan(3).Arp(2, 0x0200_0000_0001, Vip, 0x0200_0000_0002, Client).Build(),
            _ => throw new ArgumentOutOfRangeException(nameof(row), row, null),
        };

        FrameKind kind = FrameClassifier.Classify(frame, out _, out DropReason reason);

        Assert.Equal(FrameKind.Other, kind);
        Assert.Equal(DropReason.None, reason);
    }

    // A stacked tag: the classifier unwraps one 0x8100 only, so the inner tag reads as the EtherType.
    private static byte[] QinQ(ushort outer)
    {
        byte[] inner = new FrameBuilder().WithVlan(20).Build();
        byte[] frame = new byte[inner.Length + 4];
        inner.AsSpan(0, 12).CopyTo(frame);
        frame[12] = (byte)(outer >> 8);
        frame[13] = (byte)outer;
        frame[15] = 10;
        inner.AsSpan(12).CopyTo(frame.AsSpan(16));
        return frame;
    }

    [Fact]
    public void Classify_TcpSyn_FillsParsedPacket()
    {
        byte[] frame = new FrameBuilder().WithIpv4(Client, Vip).Tcp(40000, 80, TcpFlags.Syn).WithTcpOptions(5).Build();

        FrameKind kind = FrameClassifier.Classify(frame, out ParsedPacket p, out DropReason reason);

        Assert.Equal(FrameKind.Transport, kind);
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(14, p.L3Offset);
        Assert.Equal(34, p.L4Offset);
        Assert.Equal(IpProtocols.Tcp, p.Protocol);
        Assert.Equal(TcpFlags.Syn, p.TcpFlags);
        Assert.Equal(Client, p.SourceAddress);
        Assert.Equal(Vip, p.DestinationAddress);
        Assert.Equal(40000, p.SourcePort);
        Assert.Equal(80, p.DestinationPort);
        Assert.Equal(20 + 40, p.IpLength);
        Assert.Equal(40, p.L4Length);
    }

    [Fact]
    public void Classify_VlanTaggedTcpWithIpOptions_ParsesBehindTag()
    {
        byte[] frame = new FrameBuilder().WithVlan(100).WithIpOptions(2).Tcp(1234, 443, TcpFlags.Ack | TcpFlags.Fin).WithPayload(5).Build();

        FrameKind kind = FrameClassifier.Classify(frame, out ParsedPacket p, out _);

        Assert.Equal(FrameKind.Transport, kind);
        Assert.Equal(18, p.L3Offset);
        Assert.Equal(18 + 28, p.L4Offset);
        Assert.Equal(TcpFlags.Ack | TcpFlags.Fin, p.TcpFlags);
        Assert.Equal(1234, p.SourcePort);
        Assert.Equal(443, p.DestinationPort);
        Assert.Equal(28 + 20 + 5, p.IpLength);
    }

    [Fact]
    public void Classify_PaddedUdp_IpLengthExcludesEthernetPadding()
    {
        byte[] frame = new FrameBuilder().WithIpv4(Client, Vip).Udp(5000, 53).WithPayload(1).PadTo(60).Build();
        Assert.Equal(60, frame.Length);

        FrameKind kind = FrameClassifier.Classify(frame, out ParsedPacket p, out _);

        Assert.Equal(FrameKind.Transport, kind);
        Assert.Equal(IpProtocols.Udp, p.Protocol);
        Assert.Equal(0, p.TcpFlags);
        Assert.Equal(5000, p.SourcePort);
        Assert.Equal(53, p.DestinationPort);
        Assert.Equal(29, p.IpLength);
        Assert.True(Checksum.VerifyTransportChecksum(frame, in p));
    }

    [Fact]
    public void Classify_MinimalHeaders_AreAccepted()
    {
        byte[] tcp = new FrameBuilder().Build();
        byte[] udp = new FrameBuilder().Udp(1, 2).Build();

        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(tcp, out ParsedPacket pt, out _));
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(udp, out ParsedPacket pu, out _));
        Assert.Equal(40, pt.IpLength);
        Assert.Equal(28, pu.IpLength);
    }

    [Fact]
    public void Classify_PartialL4Checksum_IsStillTransport()
    {
        // The classifier does not check L4 checksums: partial ones are normal on veths and get completed.
        byte[] frame = new FrameBuilder().WithPartialL4Checksum().WithPayload(10).Build();

        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out _, out _));
    }

    [Fact]
    public void Classify_BatchOfFrames_DoesNotAllocate()
    {
        byte[][] frames =
        [
            new FrameBuilder().Build(),
            new FrameBuilder().WithVlan(5).Udp(1, 2).WithPayload(100).Build(),
            new FrameBuilder().WithBadIpChecksum().Build(),
            new FrameBuilder().Arp(1, 1, 1, 0, 2).Build(),
            new FrameBuilder().WithPartialL4Checksum().Build(),
        ];
        int transport = 0;
        for (int i = 0; i < frames.Length; i++)
            FrameClassifier.Classify(frames[i], out _, out _);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int round = 0; round < 1000; round++)
        {
            for (int i = 0; i < frames.Length; i++)
            {
                if (FrameClassifier.Classify(frames[i], out ParsedPacket p, out _) == FrameKind.Transport)
                {
                    Checksum.CompleteTransportChecksum(frames[i], in p);
                    transport++;
                }
            }
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(3000, transport);
    }
}
