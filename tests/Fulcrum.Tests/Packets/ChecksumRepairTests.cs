using System.Buffers.Binary;
using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Packets;

/// <summary>
/// Checksum.RepairPartialTransportChecksum, for drivers (AF_XDP) that cannot say whether a frame's L4 sum is
/// CHECKSUM_PARTIAL: completes a pseudo-header-only sum, leaves complete and corrupted sums alone.
/// </summary>
public class ChecksumRepairTests
{
    [Theory]
    [InlineData(false, false, 0)]
    [InlineData(false, false, 1)]
    [InlineData(false, true, 33)]
    [InlineData(true, false, 0)]
    [InlineData(true, false, 7)]
    [InlineData(true, true, 1000)]
    public void Repair_PartialIpv4Frame_CompletesItToTheFullChecksum(bool udp, bool vlan, int payload)
    {
        byte[] expected = Ipv4(udp, vlan, payload).Build();
        byte[] frame = Ipv4(udp, vlan, payload).WithPartialL4Checksum().Build();
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));

        Assert.True(Checksum.RepairPartialTransportChecksum(frame, in p));

        Assert.Equal(expected, frame);
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(true, 1401)]
    [InlineData(false, 77)]
    public void Repair_PartialIpv6Frame_CompletesItToTheFullChecksum(bool tcp, int payload)
    {
        byte[] expected = Ipv6(tcp, payload).Build();
        byte[] frame = Ipv6(tcp, payload).WithPartialL4Checksum().Build();
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));

        Assert.True(Checksum.RepairPartialTransportChecksum(frame, in p));

        Assert.Equal(expected, frame);
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 100)]
    public void Repair_CompleteFrame_LeavesItUnchanged(bool udp, int payload)
    {
        byte[] expected = Ipv4(udp, false, payload).Build();
        byte[] frame = Ipv4(udp, false, payload).Build();
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));

        Assert.False(Checksum.RepairPartialTransportChecksum(frame, in p));

        Assert.Equal(expected, frame);
    }

    [Fact]
    public void Repair_CorruptedChecksum_IsNotBlessed()
    {
        // A wrong sum that is not the pseudo-header form: the real server must see it wrong, as on a wire.
        byte[] frame = new FrameBuilder().Tcp(1234, 80, TcpFlags.Ack).WithPayload(100).WithBadL4Checksum().Build();
        byte[] expected = (byte[])frame.Clone();
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));

        Assert.False(Checksum.RepairPartialTransportChecksum(frame, in p));

        Assert.Equal(expected, frame);
        Assert.False(Checksum.VerifyTransportChecksum(frame, in p));
    }

    [Fact]
    public void Repair_UdpWithoutChecksum_StaysWithout()
    {
        byte[] frame = new FrameBuilder().Udp(1000, 2000).WithPayload(8).Build();
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(40), 0);
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));

        Assert.False(Checksum.RepairPartialTransportChecksum(frame, in p));

        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(40)));
    }

    [Fact]
    public void Repair_UdpSumOfZero_WritesFfff()
    {
        byte[] probe = new FrameBuilder().Udp(1000, 2000).WithPayload(new byte[2]).Build();
        ushort c0 = BinaryPrimitives.ReadUInt16BigEndian(probe.AsSpan(40));
        byte[] payload = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(payload, c0);
        byte[] frame = new FrameBuilder().Udp(1000, 2000).WithPayload(payload).WithPartialL4Checksum().Build();
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(frame, out ParsedPacket p, out _));

        Assert.True(Checksum.RepairPartialTransportChecksum(frame, in p));

        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(40)));
        Assert.True(Checksum.VerifyTransportChecksum(frame, in p));
    }

    private static FrameBuilder Ipv4(bool udp, bool vlan, int payload)
    {
        var builder = new FrameBuilder().WithIpv4("203.0.113.77", "198.51.100.100").WithPayload(payload);
        builder = udp ? builder.Udp(53000, 53) : builder.Tcp(41000, 80, TcpFlags.Psh | TcpFlags.Ack).WithTcpOptions(3);
        return vlan ? builder.WithVlan(42) : builder;
    }

    private static FrameBuilder Ipv6(bool tcp, int payload)
    {
        var b = new FrameBuilder().WithIpv6("2001:db8:113::10", "2001:db8:100::100").WithPayload(payload);
        return tcp ? b.Tcp(40000, 80, TcpFlags.Ack) : b.Udp(5000, 5353);
    }
}
