using System.Buffers.Binary;
using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Packets;

public class FrameClassifierFuzzTests
{
    private const int Iterations = 100_000;

    [Fact]
    public void Classify_RandomAndMutatedFrames_NeverThrowsAndVerdictIsConsistent()
    {
        var random = new Random(20261126);
        byte[][] templates =
        [
            new FrameBuilder().WithPayload(30).Build(),
            new FrameBuilder().WithVlan(9).Udp(1000, 53).WithPayload(40).Build(),
            new FrameBuilder().WithIpOptions(2).WithTcpOptions(3).Build(),
            new FrameBuilder().Udp(7, 7).Build(),
        ];
        byte[] buffer = new byte[128];
        var seenKinds = new HashSet<FrameKind>();
        var seenReasons = new HashSet<DropReason>();

        for (int i = 0; i < Iterations; i++)
        {
            int length = random.Next(0, buffer.Length + 1);
            if (i % 2 == 0)
            {
                random.NextBytes(buffer);
            }
            else
            {
                // Half the cases start from a valid frame so the deeper checks are reached too.
                byte[] template = templates[random.Next(templates.Length)];
                buffer.AsSpan().Clear();
                template.CopyTo(buffer, 0);
                length = random.Next(0, 4) == 0 ? length : Math.Min(template.Length + random.Next(0, 8), buffer.Length);
                int flips = random.Next(0, 4);
                for (int f = 0; f < flips; f++)
                    buffer[random.Next(12, 60)] = (byte)random.Next(256);
                if (random.Next(0, 2) == 0)
                    FixIpChecksum(buffer.AsSpan(0, length));
            }

            Span<byte> frame = buffer.AsSpan(0, length);
            FrameKind kind = FrameClassifier.Classify(frame, out ParsedPacket p, out DropReason reason);
            FrameKind again = FrameClassifier.Classify(frame, out ParsedPacket p2, out DropReason reason2);

            Assert.Equal(kind, again);
            Assert.Equal(reason, reason2);
            Assert.Equal(p, p2);
            AssertConsistent(frame, kind, in p, reason);
            seenKinds.Add(kind);
            seenReasons.Add(reason);
        }

        Assert.Equal(3, seenKinds.Count);
        for (var r = DropReason.TooShort; r <= DropReason.BadTcpHeader; r++)
            Assert.Contains(r, seenReasons);
    }

    private static void AssertConsistent(Span<byte> frame, FrameKind kind, in ParsedPacket p, DropReason reason)
    {
        switch (kind)
        {
            case FrameKind.Transport when p.IsIPv6:
                // A random frame can carry the IPv6 EtherType; Ipv6ClassifierTests checks those in depth.
                Assert.Equal(DropReason.None, reason);
                Assert.True(Ipv6Header.TryCreate(frame[p.L3Offset..], out _));
                break;
            case FrameKind.Transport:
                Assert.Equal(DropReason.None, reason);
                Assert.True(p.L3Offset is 14 or 18);
                Assert.True(p.Protocol is IpProtocols.Tcp or IpProtocols.Udp);
                Assert.True(p.L3Offset + p.IpLength <= frame.Length);
                Assert.True(Ipv4Header.TryCreate(frame[p.L3Offset..], out Ipv4Header ip));
                Assert.True(ip.VerifyChecksum());
                Assert.False(ip.IsFragment);
                Assert.Equal(p.L3Offset + ip.HeaderLength, p.L4Offset);
                Assert.Equal(ip.TotalLength, p.IpLength);
                Assert.Equal(ip.Source, p.SourceAddress);
                Assert.Equal(ip.Destination, p.DestinationAddress);
                Span<byte> l4 = frame[p.L4Offset..(p.L3Offset + p.IpLength)];
                if (p.Protocol == IpProtocols.Tcp)
                {
                    Assert.True(TcpHeader.TryCreate(l4, out TcpHeader tcp));
                    Assert.Equal(tcp.Flags, p.TcpFlags);
                    Assert.Equal(tcp.DestinationPort, p.DestinationPort);
                }
                else
                {
                    Assert.True(UdpHeader.TryCreate(l4, out UdpHeader udp));
                    Assert.Equal(udp.DestinationPort, p.DestinationPort);
                }
                // Completing the checksum of any accepted frame stays in bounds.
                Checksum.CompleteTransportChecksum(frame, in p);
                Assert.True(Checksum.VerifyTransportChecksum(frame, in p));
                break;
            case FrameKind.Other:
                Assert.Equal(DropReason.None, reason);
                Assert.Equal(default, p);
                break;
            case FrameKind.Malformed:
                Assert.True(reason is (>= DropReason.TooShort and <= DropReason.BadTcpHeader) or DropReason.BadIpv6Header or DropReason.ExtensionHeader, reason.ToString());
                Assert.Equal(default, p);
                break;
            default:
                Assert.Fail($"unknown kind {kind}");
                break;
        }
    }

    private static void FixIpChecksum(Span<byte> frame)
    {
        if (frame.Length < 14)
            return;
        int l3 = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == EtherTypes.Vlan ? 18 : 14;
        if (frame.Length < l3 + 20)
            return;
        int ihl = (frame[l3] & 0xF) * 4;
        if (ihl < 20 || l3 + ihl > frame.Length)
            return;
        BinaryPrimitives.WriteUInt16BigEndian(frame[(l3 + 10)..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(frame[(l3 + 10)..], Checksum.Compute(frame.Slice(l3, ihl)));
    }
}
