using System.Buffers.Binary;
using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Packets;

public class ChecksumTests
{
    [Fact]
    public void Add_Rfc1071Example_FoldsToDdf2()
    {
        // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
        byte[] data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];

        Assert.Equal(0xddf2, Checksum.Fold(Checksum.Add(data)));
        Assert.Equal(0x220d, Checksum.Compute(data));
    }

    [Fact]
    public void Compute_CapturedIpv4Header_MatchesKnownChecksum()
    {
        byte[] header = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7];

        Assert.Equal(0xb861, Checksum.Compute(header));
    }

    [Theory]
    [InlineData(new byte[0], 0x0000)]
    [InlineData(new byte[] { 0xab }, 0xab00)]
    [InlineData(new byte[] { 0xab, 0xcd, 0x01 }, 0xaccd)]
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xff }, 0xffff)]
    [InlineData(new byte[] { 0x80, 0x00, 0x80, 0x00, 0x00, 0x01 }, 0x0002)] // end-around carry
    public void Fold_ShortInputs_MatchHandComputedSums(byte[] data, int expected)
    {
        Assert.Equal(expected, Checksum.Fold(Checksum.Add(data)));
    }

    [Fact]
    public void Add_RandomLengthsAndAlignments_MatchesNaiveSum()
    {
        var random = new Random(1071);
        byte[] buffer = new byte[1600];
        for (int i = 0; i < 5000; i++)
        {
            random.NextBytes(buffer);
            int offset = random.Next(0, 8);
            int length = random.Next(0, 1500);
            uint initial = (uint)random.Next(0, 0x40000);
            ReadOnlySpan<byte> data = buffer.AsSpan(offset, length);

            Assert.Equal(NaiveFold(data, initial), Checksum.Fold(Checksum.Add(data, initial)));
        }
    }

    [Fact]
    public void Add_ChainedEvenSpans_EqualsOneSpan()
    {
        byte[] data = new byte[101];
        new Random(7).NextBytes(data);

        uint chained = Checksum.Add(data.AsSpan(40), Checksum.Add(data.AsSpan(10, 30), Checksum.Add(data.AsSpan(0, 10))));

        Assert.Equal(Checksum.Fold(Checksum.Add(data)), Checksum.Fold(chained));
    }

    [Fact]
    public void Update16_RandomFieldChanges_EqualsFullRecompute()
    {
        var random = new Random(1624);
        byte[] data = new byte[40];
        for (int i = 0; i < 20000; i++)
        {
            random.NextBytes(data);
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(10), 0);
            ushort checksum = Checksum.Compute(data);
            int at = random.Next(0, 20) * 2;
            if (at == 10)
                continue;
            ushort old = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(at));
            ushort value = (ushort)random.Next(0, 0x10000);
            if (i % 10 == 0)
                value = (ushort)(i % 20 == 0 ? 0 : 0xFFFF);

            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(at), value);

            Assert.Equal(Checksum.Compute(data), Checksum.Update16(checksum, old, value));
        }
    }

    [Fact]
    public void Update32_RandomAddressChanges_EqualsFullRecompute()
    {
        var random = new Random(1625);
        byte[] data = new byte[20];
        for (int i = 0; i < 20000; i++)
        {
            random.NextBytes(data);
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(10), 0);
            ushort checksum = Checksum.Compute(data);
            int at = random.Next(0, 2) == 0 ? 12 : 16;
            uint old = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at));
            uint value = (uint)random.NextInt64(0, 0x1_0000_0000);

            BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(at), value);

            Assert.Equal(Checksum.Compute(data), Checksum.Update32(checksum, old, value));
        }
    }

    [Fact]
    public void PseudoHeaderSum_KnownAddresses_AddsWordsProtocolAndLength()
    {
        uint sum = Checksum.PseudoHeaderSum(0xC0A8_0001, 0xC0A8_00C7, IpProtocols.Udp, 0x5F);

        Assert.Equal(0xC0A8u + 0x0001 + 0xC0A8 + 0x00C7 + 17 + 0x5F, sum);
    }

    [Theory]
    [InlineData(false, false, 0)]
    [InlineData(false, false, 1)]
    [InlineData(false, true, 33)]
    [InlineData(true, false, 0)]
    [InlineData(true, false, 7)]
    [InlineData(true, true, 1000)]
    public void CompleteTransportChecksum_PartialChecksumFrame_VerifiesAndMatchesFullChecksum(bool udp, bool vlan, int payload)
    {
        FrameBuilder builder = Transport(udp, vlan, payload);
        byte[] expected = builder.Build();
        byte[] frame = builder.WithPartialL4Checksum().Build();
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));
        Assert.False(Checksum.VerifyTransportChecksum(frame, in p));

        Checksum.CompleteTransportChecksum(frame, in p);

        Assert.True(Checksum.VerifyTransportChecksum(frame, in p));
        Assert.Equal(expected, frame);
    }

    [Fact]
    public void CompleteTransportChecksum_GarbageInField_IsIgnored()
    {
        byte[] expected = new FrameBuilder().Tcp(1234, 80, TcpFlags.Ack).WithPayload(100).Build();
        byte[] frame = new FrameBuilder().Tcp(1234, 80, TcpFlags.Ack).WithPayload(100).WithBadL4Checksum().Build();
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));
        Assert.False(Checksum.VerifyTransportChecksum(frame, in p));

        Checksum.CompleteTransportChecksum(frame, in p);

        Assert.Equal(expected, frame);
    }

    [Fact]
    public void CompleteTransportChecksum_UdpSumOfZero_WritesFfff()
    {
        // With a zero payload word, the checksum c0 is ~sum; a payload word equal to c0 makes the total
        // sum 0xFFFF, so the computed checksum is 0, which UDP must send as 0xFFFF (RFC 768).
        byte[] probe = new FrameBuilder().Udp(1000, 2000).WithPayload(new byte[2]).Build();
        ushort c0 = BinaryPrimitives.ReadUInt16BigEndian(probe.AsSpan(40));
        byte[] payload = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(payload, c0);
        byte[] frame = new FrameBuilder().Udp(1000, 2000).WithPayload(payload).WithPartialL4Checksum().Build();
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));

        Checksum.CompleteTransportChecksum(frame, in p);

        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(40)));
        Assert.True(Checksum.VerifyTransportChecksum(frame, in p));
    }

    [Fact]
    public void CompleteTransportChecksum_UdpLengthShorterThanIpPayload_CoversOnlyUdpLength()
    {
        byte[] a = new FrameBuilder().Udp(1000, 2000).WithPayload(new byte[] { 1, 2, 3, 4, 5, 6 }).WithUdpLength(12).Build();
        byte[] b = new FrameBuilder().Udp(1000, 2000).WithPayload(new byte[] { 1, 2, 3, 4, 9, 9 }).WithUdpLength(12).Build();
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(a, out ParsedPacket pa, out _));
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(b, out ParsedPacket pb, out _));

        Checksum.CompleteTransportChecksum(a, in pa);
        Checksum.CompleteTransportChecksum(b, in pb);

        Assert.Equal(a[40..42], b[40..42]);
        Assert.True(Checksum.VerifyTransportChecksum(a, in pa));
    }

    [Fact]
    public void VerifyTransportChecksum_UdpWithoutChecksum_IsValid()
    {
        byte[] frame = new FrameBuilder().Udp(1000, 2000).WithPayload(5).WithoutUdpChecksum().Build();
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));

        Assert.True(Checksum.VerifyTransportChecksum(frame, in p));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void VerifyTransportChecksum_BadChecksum_IsInvalid(bool udp)
    {
        byte[] frame = Transport(udp, vlan: false, payload: 9).WithBadL4Checksum().Build();
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));

        Assert.False(Checksum.VerifyTransportChecksum(frame, in p));
    }

    private static FrameBuilder Transport(bool udp, bool vlan, int payload)
    {
        var builder = new FrameBuilder().WithIpv4("203.0.113.77", "198.51.100.1").WithPayload(payload);
        builder = udp ? builder.Udp(53000, 53) : builder.Tcp(41000, 80, TcpFlags.Psh | TcpFlags.Ack).WithTcpOptions(3);
        if (vlan)
            builder = builder.WithVlan(42);
        return builder;
    }

    private static ushort NaiveFold(ReadOnlySpan<byte> data, uint initial)
    {
        ulong sum = initial;
        for (int i = 0; i < data.Length; i += 2)
            sum += (uint)(data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0u);
        while (sum > 0xFFFF)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }
}
