using System.Buffers.Binary;
using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Packets;

public class Ipv6ClassifierTests
{
    private const string Client = "2001:db8:113::10";
    private const string Vip = "2001:db8:100::100";

    public static TheoryData<string, DropReason> MalformedRows => new()
    {
        { "IPv6 header cut at 39 bytes", DropReason.Truncated },
        { "tagged IPv6 header cut at 39 bytes", DropReason.Truncated },
        { "version 4 under IPv6 EtherType", DropReason.BadIpv6Header },
        { "multicast source", DropReason.BadIpv6Header },
        { "payload length beyond frame", DropReason.BadLength },
        { "frame cut inside payload", DropReason.BadLength },
        { "fragment header", DropReason.Fragment },
        { "hop-by-hop options", DropReason.ExtensionHeader },
        { "routing header", DropReason.ExtensionHeader },
        { "destination options", DropReason.ExtensionHeader },
        { "authentication header", DropReason.ExtensionHeader },
        { "TCP header beyond payload length", DropReason.Truncated },
        { "UDP header beyond payload length", DropReason.Truncated },
        { "payload length 0", DropReason.Truncated },
        { "TCP data offset 4", DropReason.BadTcpHeader },
        { "TCP data offset beyond payload", DropReason.BadTcpHeader },
    };

    [Theory]
    [MemberData(nameof(MalformedRows))]
    public void Classify_MalformedIpv6Frame_ReturnsMalformedWithReason(string row, DropReason expected)
    {
        byte[] frame = Malformed(row);

        FrameKind kind = FrameClassifier.Classify(frame, out ParsedPacket packet, out DropReason reason);

        Assert.Equal(FrameKind.Malformed, kind);
        Assert.Equal(expected, reason);
        Assert.Equal(default, packet);
    }

    private static byte[] Malformed(string row) => row switch
    {
        "IPv6 header cut at 39 bytes" => Tcp().TruncateTo(14 + 39).Build(),
        "tagged IPv6 header cut at 39 bytes" => Tcp().WithVlan(7).TruncateTo(18 + 39).Build(),
        "version 4 under IPv6 EtherType" => Tcp().WithIpVersion(4).Build(),
        "multicast source" => new FrameBuilder().WithIpv6("ff02::1", Vip).Tcp(40000, 80).Build(),
        "payload length beyond frame" => Tcp().WithTotalLength(21).Build(),
        "frame cut inside payload" => Tcp().WithPayload(10).TruncateTo(14 + 40 + 25).Build(),
        "fragment header" => Raw(IpProtocols.Ipv6Fragment, 28),
        "hop-by-hop options" => Raw(IpProtocols.Ipv6HopByHop, 28),
        "routing header" => Raw(IpProtocols.Ipv6Routing, 28),
        "destination options" => Raw(IpProtocols.Ipv6DestinationOptions, 28),
        "authentication header" => Raw(IpProtocols.Ah, 36),
        "TCP header beyond payload length" => Tcp().WithTotalLength(19).PadTo(14 + 40 + 20).Build(),
        "UDP header beyond payload length" => new FrameBuilder().WithIpv6(Client, Vip).Udp(1000, 53).WithTotalLength(7).Build(),
        "payload length 0" => Tcp().WithTotalLength(0).Build(),
        "TCP data offset 4" => Tcp().WithTcpDataOffset(4).Build(),
        "TCP data offset beyond payload" => Tcp().WithTcpDataOffset(6).Build(),
        _ => throw new ArgumentException(row, nameof(row)),
    };

    [Theory]
    [InlineData(IpProtocols.Icmpv6)]
    [InlineData(59)] // No Next Header
    [InlineData(50)] // ESP: what follows is encrypted
    [InlineData(IpProtocols.Vrrp)]
    public void Classify_Ipv6NotTcpOrUdp_IsOtherForTheKernel(byte nextHeader)
    {
        byte[] frame = Raw(nextHeader, 32);

        Assert.Equal(FrameKind.Other, FrameClassifier.Classify(frame, out ParsedPacket packet, out DropReason reason));
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(default, packet);
    }

    [Fact]
    public void Classify_Ipv6TcpSyn_FillsParsedPacket()
    {
        byte[] frame = Tcp().WithPayload(12).PadTo(120).Build();

        FrameKind kind = FrameClassifier.Classify(frame, out ParsedPacket p, out DropReason reason);

        Assert.Equal(FrameKind.Transport, kind);
        Assert.Equal(DropReason.None, reason);
        Assert.True(p.IsIPv6);
        Assert.Equal(14, p.L3Offset);
        Assert.Equal(54, p.L4Offset);
        Assert.Equal(IpProtocols.Tcp, p.Protocol);
        Assert.Equal(TcpFlags.Syn, p.TcpFlags);
        Assert.Equal(FrameBuilder.Ip6(Client), p.SourceAddress6);
        Assert.Equal(FrameBuilder.Ip6(Vip), p.DestinationAddress6);
        Assert.Equal(40000, p.SourcePort);
        Assert.Equal(80, p.DestinationPort);
        Assert.Equal(40 + 20 + 12, p.IpLength); // Ethernet padding is not counted
        Assert.Equal(32, p.L4Length);
        Assert.Equal(ParsedPacket.Fold(FrameBuilder.Ip6(Client)), p.SourceAddress);
        Assert.Equal(ParsedPacket.Fold(FrameBuilder.Ip6(Vip)), p.DestinationAddress);
    }

    [Fact]
    public void Classify_TaggedIpv6Udp_FillsOffsetsBehindTheTag()
    {
        byte[] frame = new FrameBuilder().WithVlan(100).WithIpv6(Client, Vip).Udp(5000, 5353).WithPayload(5).Build();

        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));
        Assert.Equal(18, p.L3Offset);
        Assert.Equal(58, p.L4Offset);
        Assert.Equal(IpProtocols.Udp, p.Protocol);
        Assert.Equal(0, p.TcpFlags);
        Assert.Equal(5353, p.DestinationPort);
        Assert.Equal(53, p.IpLength);
    }

    [Fact]
    public void Fold_XorsTheFourWords_AsTheKernelsAddrFold()
    {
        // ip_vs_sh_hashkey: addr->ip6[0] ^ ip6[1] ^ ip6[2] ^ ip6[3] (then ntohl).
        UInt128 a = FrameBuilder.Ip6("2001:db8:113::10");
        uint expected = 0x20010db8u ^ 0x01130000u ^ 0u ^ 0x10u;
        Assert.Equal(expected, ParsedPacket.Fold(a));
    }

    [Fact]
    public void Classify_RandomAndMutatedIpv6Frames_NeverThrowsAndVerdictIsConsistent()
    {
        var random = new Random(6);
        byte[][] templates =
        [
            Tcp().WithPayload(30).Build(),
            new FrameBuilder().WithVlan(9).WithIpv6(Client, Vip).Udp(1000, 53).WithPayload(40).Build(),
            Tcp().WithTcpOptions(3).Build(),
            Raw(IpProtocols.Ipv6HopByHop, 28),
        ];
        byte[] buffer = new byte[160];
        var seenReasons = new HashSet<DropReason>();
        var seenKinds = new HashSet<FrameKind>();
        for (int i = 0; i < 100_000; i++)
        {
            byte[] template = templates[random.Next(templates.Length)];
            buffer.AsSpan().Clear();
            template.CopyTo(buffer, 0);
            int length = random.Next(0, 4) == 0 ? random.Next(0, buffer.Length + 1) : Math.Min(template.Length + random.Next(0, 8), buffer.Length);
            int flips = random.Next(0, 4);
            for (int f = 0; f < flips; f++)
                buffer[random.Next(12, 80)] = (byte)random.Next(256);

            Span<byte> frame = buffer.AsSpan(0, length);
            FrameKind kind = FrameClassifier.Classify(frame, out ParsedPacket p, out DropReason reason);
            seenKinds.Add(kind);
            seenReasons.Add(reason);
            if (kind == FrameKind.Transport && p.IsIPv6)
            {
                Assert.Equal(DropReason.None, reason);
                Assert.True(Ipv6Header.TryCreate(frame[p.L3Offset..], out Ipv6Header ip));
                Assert.Equal(ip.NextHeader, p.Protocol);
                Assert.Equal(Ipv6Header.Length + ip.PayloadLength, p.IpLength);
                Assert.True(p.L3Offset + p.IpLength <= frame.Length);
                Assert.Equal(ip.Source, p.SourceAddress6);
                Assert.Equal(ip.Destination, p.DestinationAddress6);
                Checksum.CompleteTransportChecksum(frame, in p);
                Assert.True(Checksum.VerifyTransportChecksum(frame, in p));
            }
            else if (kind == FrameKind.Malformed)
            {
                Assert.NotEqual(DropReason.None, reason);
            }
        }

        Assert.Equal(3, seenKinds.Count);
        foreach (var r in (DropReason[])[DropReason.Truncated, DropReason.BadIpv6Header, DropReason.BadLength, DropReason.Fragment, DropReason.ExtensionHeader, DropReason.BadTcpHeader])
            Assert.Contains(r, seenReasons);
    }

    private static FrameBuilder Tcp() => new FrameBuilder().WithIpv6(Client, Vip).Tcp(40000, 80);

    /// <summary>An IPv6 packet with this next header and a payload that would parse as TCP to port 80 if it were one.</summary>
    private static byte[] Raw(byte nextHeader, int payload)
    {
        var bytes = new byte[payload];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), 80);
        bytes[12] = 0x50;
        return new FrameBuilder().Ipv6(FrameBuilder.Ip6(Client), FrameBuilder.Ip6(Vip), nextHeader).WithPayload(bytes).Build();
    }
}
