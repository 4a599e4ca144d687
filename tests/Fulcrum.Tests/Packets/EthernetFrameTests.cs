using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Packets;

public class EthernetFrameTests
{
    private static readonly ulong SourceMac = FrameBuilder.Mac("02:aa:bb:cc:dd:01");
    private static readonly ulong DestinationMac = FrameBuilder.Mac("02:aa:bb:cc:dd:02");

    [Fact]
    public void TryCreate_UntaggedFrame_ReadsMacsAndEtherType()
    {
        byte[] frame = new FrameBuilder().WithMacs(SourceMac, DestinationMac).Build();

        Assert.True(EthernetFrame.TryCreate(frame, out EthernetFrame eth));

        Assert.Equal(DestinationMac, eth.DestinationMac);
        Assert.Equal(SourceMac, eth.SourceMac);
        Assert.Equal(new byte[] { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x02 }, eth.Destination.ToArray());
        Assert.Equal(new byte[] { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01 }, eth.Source.ToArray());
        Assert.Equal(EtherTypes.Ipv4, eth.EtherType);
        Assert.False(eth.HasVlanTag);
        Assert.Equal(0, eth.VlanId);
        Assert.Equal(14, eth.PayloadOffset);
        Assert.Equal(frame.Length - 14, eth.Payload.Length);
    }

    [Fact]
    public void TryCreate_VlanTaggedFrame_SkipsTagAndReportsVlan()
    {
        byte[] frame = new FrameBuilder().WithVlan(100, priority: 5).Build();

        Assert.True(EthernetFrame.TryCreate(frame, out EthernetFrame eth));

        Assert.True(eth.HasVlanTag);
        Assert.Equal(100, eth.VlanId);
        Assert.Equal((5 << 13) | 100, eth.VlanTci);
        Assert.Equal(EtherTypes.Ipv4, eth.EtherType);
        Assert.Equal(18, eth.PayloadOffset);
        Assert.Equal(0x45, eth.Payload[0]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(13)]
    public void TryCreate_ShorterThanHeader_ReturnsFalse(int length)
    {
        Assert.False(EthernetFrame.TryCreate(new byte[length], out _));
    }

    [Theory]
    [InlineData(14)]
    [InlineData(17)]
    public void TryCreate_TagThatDoesNotFit_ReturnsFalse(int length)
    {
        byte[] frame = new byte[length];
        frame[12] = 0x81;
        frame[13] = 0x00;

        Assert.False(EthernetFrame.TryCreate(frame, out _));
    }

    [Fact]
    public void Setters_RewriteMacsAndEtherType_InPlace()
    {
        byte[] frame = new FrameBuilder().WithVlan(7).Build();
        Assert.True(EthernetFrame.TryCreate(frame, out EthernetFrame eth));

        eth.DestinationMac = 0x0000_1122_3344_5566;
        eth.SetSource([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]);
        eth.EtherType = EtherTypes.Ipv6;

        Assert.Equal(new byte[] { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x81, 0x00 }, frame[..14]);
        Assert.Equal(0x86, frame[16]);
        Assert.Equal(0xDD, frame[17]);
        Assert.True(EthernetFrame.TryCreate(frame, out EthernetFrame again));
        Assert.Equal(0x0000_dead_beef_0001UL, again.SourceMac);
        Assert.Equal(EtherTypes.Ipv6, again.EtherType);
        Assert.Equal(7, again.VlanId);
    }

    [Fact]
    public void SetDestination_CopiesSixBytes_LeavesSourceAlone()
    {
        byte[] frame = new FrameBuilder().WithMacs(SourceMac, DestinationMac).Build();
        Assert.True(EthernetFrame.TryCreate(frame, out EthernetFrame eth));

        eth.SetDestination([1, 2, 3, 4, 5, 6, 7, 8]);

        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, frame[..6]);
        Assert.Equal(SourceMac, eth.SourceMac);
    }

    [Fact]
    public void WriteMac_ReadMac_RoundTrip()
    {
        Span<byte> buffer = stackalloc byte[6];

        EthernetFrame.WriteMac(buffer, 0x0000_0102_0304_0506);

        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, buffer.ToArray());
        Assert.Equal(0x0000_0102_0304_0506UL, EthernetFrame.ReadMac(buffer));
    }
}
