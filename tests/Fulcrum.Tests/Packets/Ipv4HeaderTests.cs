using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Packets;

public class Ipv4HeaderTests
{
    // A real captured header (192.168.0.1 → 192.168.0.199, UDP) with its known checksum 0xB861.
    private static byte[] CapturedHeader() =>
        [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7];

    [Fact]
    public void TryCreate_CapturedHeader_ReadsEveryField()
    {
        byte[] bytes = CapturedHeader();

        Assert.True(Ipv4Header.TryCreate(bytes, out Ipv4Header ip));

        Assert.Equal(4, ip.Version);
        Assert.Equal(5, ip.Ihl);
        Assert.Equal(20, ip.HeaderLength);
        Assert.Equal(0, ip.TypeOfService);
        Assert.Equal(0x73, ip.TotalLength);
        Assert.Equal(0, ip.Identification);
        Assert.Equal(0x4000, ip.FlagsAndFragmentOffset);
        Assert.Equal(2, ip.Flags);
        Assert.True(ip.DontFragment);
        Assert.False(ip.MoreFragments);
        Assert.Equal(0, ip.FragmentOffset);
        Assert.False(ip.IsFragment);
        Assert.Equal(64, ip.TimeToLive);
        Assert.Equal(IpProtocols.Udp, ip.Protocol);
        Assert.Equal(0xB861, ip.HeaderChecksum);
        Assert.Equal(0xC0A8_0001u, ip.Source);
        Assert.Equal(0xC0A8_00C7u, ip.Destination);
        Assert.True(ip.VerifyChecksum());
    }

    [Fact]
    public void RecomputeChecksum_CapturedHeader_ReproducesKnownValue()
    {
        byte[] bytes = CapturedHeader();
        Assert.True(Ipv4Header.TryCreate(bytes, out Ipv4Header ip));
        ip.HeaderChecksum = 0x1234;
        Assert.False(ip.VerifyChecksum());

        ip.RecomputeChecksum();

        Assert.Equal(0xB861, ip.HeaderChecksum);
        Assert.Equal(CapturedHeader(), bytes);
    }

    [Fact]
    public void Setters_WriteWireFormat_RoundTrip()
    {
        byte[] bytes = new byte[24];
        bytes[0] = 0x45;
        Assert.True(Ipv4Header.TryCreate(bytes, out Ipv4Header ip));

        ip.Ihl = 6;
        ip.TypeOfService = 0xB8;
        ip.TotalLength = 1500;
        ip.Identification = 0xBEEF;
        ip.FlagsAndFragmentOffset = Ipv4Header.MoreFragmentsBit | 185;
        ip.TimeToLive = 63;
        ip.Protocol = IpProtocols.Tcp;
        ip.Source = FrameBuilder.Ip("203.0.113.10");
        ip.Destination = FrameBuilder.Ip("198.51.100.1");
        ip.RecomputeChecksum();

        Assert.Equal(new byte[] { 0x46, 0xB8, 0x05, 0xDC, 0xBE, 0xEF, 0x20, 0xB9, 63, 6 }, bytes[..10]);
        Assert.Equal(new byte[] { 203, 0, 113, 10, 198, 51, 100, 1 }, bytes[12..20]);
        Assert.Equal(24, ip.HeaderLength);
        Assert.True(ip.MoreFragments);
        Assert.Equal(185, ip.FragmentOffset);
        Assert.True(ip.IsFragment);
        Assert.True(ip.VerifyChecksum());
    }

    [Theory]
    [InlineData(0x0000, false)]
    [InlineData(0x4000, false)] // DF only
    [InlineData(0x8000, false)] // reserved bit only
    [InlineData(0x2000, true)]  // MF: first fragment
    [InlineData(0x0001, true)]  // offset 8 bytes: later fragment
    [InlineData(0x1FFF, true)]  // last possible offset
    [InlineData(0x2040, true)]  // middle fragment
    public void IsFragment_FlagWords_MatchesMfOrOffset(int word, bool expected)
    {
        byte[] bytes = CapturedHeader();
        Assert.True(Ipv4Header.TryCreate(bytes, out Ipv4Header ip));

        ip.FlagsAndFragmentOffset = (ushort)word;

        Assert.Equal(expected, ip.IsFragment);
    }

    [Theory]
    [InlineData(0x45, 19)] // shorter than 20
    [InlineData(0x65, 20)] // version 6
    [InlineData(0x44, 20)] // IHL 4
    [InlineData(0x46, 20)] // IHL 6 beyond the bytes
    public void TryCreate_Invalid_ReturnsFalse(byte first, int length)
    {
        byte[] bytes = new byte[length];
        bytes[0] = first;

        Assert.False(Ipv4Header.TryCreate(bytes, out _));
    }

    [Fact]
    public void DecrementTimeToLive_PatchesChecksumIncrementally_EqualsRecompute()
    {
        byte[] bytes = CapturedHeader();
        Assert.True(Ipv4Header.TryCreate(bytes, out Ipv4Header ip));

        ip.DecrementTimeToLive();
        ushort incremental = ip.HeaderChecksum;
        ip.RecomputeChecksum();

        Assert.Equal(63, ip.TimeToLive);
        Assert.Equal(ip.HeaderChecksum, incremental);
        Assert.True(ip.VerifyChecksum());
    }

    [Fact]
    public void TryCreate_WithOptions_HeaderSpansOptions()
    {
        byte[] frame = new FrameBuilder().WithIpOptions(3).Build();

        Assert.True(Ipv4Header.TryCreate(frame.AsSpan(14), out Ipv4Header ip));

        Assert.Equal(8, ip.Ihl);
        Assert.Equal(32, ip.Header.Length);
        Assert.True(ip.VerifyChecksum());
    }
}
