using System.Buffers.Binary;
using Fulcrum.Vrrp;

namespace Fulcrum.Tests.Vrrp;

// Golden bytes laid out by hand from RFC 3768 §5.1 / RFC 5798 §5.1 (checksums by RFC 1071 on paper and
// cross-checked with an independent script), with keepalived's choices: TOS 0xc0, id 0, TTL 255,
// PASS password after the addresses, v3 IPv4 checksum over the pseudo-header.
public class VrrpCodecTests
{
    private const uint Lb1 = 0xC633640B;   // 198.51.100.11
    private const uint Vip = 0xC6336464;   // 198.51.100.100
    private const uint Vip2 = 0xC6336465;  // 198.51.100.101

    private static readonly VrrpMessageFormat V2 = new(2, 51, [Vip], TimeSpan.FromSeconds(1));
    private static readonly VrrpMessageFormat V3 = new(3, 51, [Vip, Vip2], TimeSpan.FromSeconds(1));

    [Fact]
    public void WriteIpv4_V2NoAuth_MatchesRfc3768Layout()
    {
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv4(buffer, V2, 100, Lb1, VrrpCodec.MulticastGroup);
        Assert.Equal(
            "45c0002800000000ff70b054c633640be0000012" + "2133640100015032c6336464" + "0000000000000000",
            Convert.ToHexStringLower(buffer.AsSpan(0, n)));
    }

    [Fact]
    public void WriteIpv4_V2Pass_PasswordFollowsAddresses()
    {
        var format = V2 with { Password = "secret"u8.ToArray() };
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv4(buffer, format, 100, Lb1, VrrpCodec.MulticastGroup);
        Assert.Equal("21336401010112e6c63364647365637265740000", Convert.ToHexStringLower(buffer.AsSpan(20, n - 20)));
    }

    [Fact]
    public void WriteIpv4_V3_CentisecondsAndPseudoHeaderChecksum()
    {
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv4(buffer, V3, 100, Lb1, VrrpCodec.MulticastGroup);
        Assert.Equal(
            "45c0002400000000ff70b058c633640be0000012" + "3133640200640a63c6336464c6336465",
            Convert.ToHexStringLower(buffer.AsSpan(0, n)));
    }

    [Fact]
    public void WriteIpv4_V3ChecksumAsV2_ChecksumCoversMessageOnly()
    {
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        VrrpCodec.WriteIpv4(buffer, V3 with { V3ChecksumAsV2 = true }, 100, Lb1, VrrpCodec.MulticastGroup);
        Assert.Equal(0x1535, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(26)));
    }

    [Fact]
    public void WriteIpv4_V3SubSecondInterval_WritesCentiseconds()
    {
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        VrrpCodec.WriteIpv4(buffer, V3 with { AdvertInterval = TimeSpan.FromMilliseconds(50) }, 100, Lb1, VrrpCodec.MulticastGroup);
        Assert.Equal(5, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(24)));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Validate_OwnPacket_RoundTrips(int version)
    {
        var format = version == 2 ? V2 with { Password = "pw"u8.ToArray() } : V3;
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv4(buffer, format, 150, Lb1, VrrpCodec.MulticastGroup);
        Assert.Equal(VrrpReceiveResult.Ok, VrrpCodec.Validate(buffer.AsSpan(0, n), format, out var advert));
        Assert.Equal(new VrrpAdvertisement(Lb1, 150, TimeSpan.FromSeconds(1)), advert);
    }

    [Fact]
    public void Validate_V3_LearnsSendersInterval()
    {
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv4(buffer, V3 with { AdvertInterval = TimeSpan.FromMilliseconds(250) }, 100, Lb1, VrrpCodec.MulticastGroup);
        Assert.Equal(VrrpReceiveResult.Ok, VrrpCodec.Validate(buffer.AsSpan(0, n), V3, out var advert));
        Assert.Equal(TimeSpan.FromMilliseconds(250), advert.AdvertInterval);
    }

    public static TheoryData<string, VrrpReceiveResult> Corruptions => new()
    {
        { "ttl", VrrpReceiveResult.BadTtl },
        { "version", VrrpReceiveResult.VersionMismatch },
        { "type", VrrpReceiveResult.BadType },
        { "vrid", VrrpReceiveResult.OtherRouter },
        { "checksum", VrrpReceiveResult.BadChecksum },
        { "count", VrrpReceiveResult.TooShort },
        { "address", VrrpReceiveResult.AddressMismatch },
        { "auth", VrrpReceiveResult.AuthMismatch },
        { "interval", VrrpReceiveResult.IntervalMismatch },
        { "truncated", VrrpReceiveResult.TooShort },
        { "protocol", VrrpReceiveResult.NotVrrp },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void Validate_CorruptedV2_Rejected(string what, VrrpReceiveResult expected)
    {
        var format = V2 with { Password = "secret"u8.ToArray() };
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv4(buffer, format, 100, Lb1, VrrpCodec.MulticastGroup);
        var p = buffer.AsSpan(0, n);
        var m = p[20..];
        switch (what)
        {
            case "ttl": p[8] = 64; break;
            case "version": m[0] = 0x31; break;
            case "type": m[0] = 0x22; break;
            case "vrid": m[1] = 52; break;
            case "checksum": m[7] ^= 1; break;
            case "count": m[3] = 2; break;
            case "protocol": p[9] = 6; break;
            case "truncated": p = p[..(n - 1)]; BinaryPrimitives.WriteUInt16BigEndian(p[2..], (ushort)(n - 1)); break;
            default: break;
        }

        if (what is "address" or "auth" or "interval")
        {
            // Re-sign so only the field under test is wrong.
            var other = what switch
            {
                "address" => format with { Addresses = [Vip2] },
                "auth" => format with { Password = "other"u8.ToArray() },
                _ => format with { AdvertInterval = TimeSpan.FromSeconds(2) },
            };
            n = VrrpCodec.WriteIpv4(buffer, other, 100, Lb1, VrrpCodec.MulticastGroup);
            p = buffer.AsSpan(0, n);
        }

        Assert.Equal(expected, VrrpCodec.Validate(p, format, out _));
    }

    [Fact]
    public void Validate_AddressCountDiffers_Rejected()
    {
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv4(buffer, V3, 100, Lb1, VrrpCodec.MulticastGroup);
        Assert.Equal(VrrpReceiveResult.AddressCountMismatch, VrrpCodec.Validate(buffer.AsSpan(0, n), V3 with { Addresses = [Vip] }, out _));
    }

    [Fact]
    public void Validate_UnicastWithLowTtl_Accepted()
    {
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv4(buffer, V2, 100, Lb1, 0xC633640C, ttl: 64);
        Assert.Equal(VrrpReceiveResult.Ok, VrrpCodec.Validate(buffer.AsSpan(0, n), V2, out _));
    }

    [Fact]
    public void Validate_V3PseudoHeaderChecksumWhenConfiguredAsV2_Rejected()
    {
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv4(buffer, V3, 100, Lb1, VrrpCodec.MulticastGroup);
        Assert.Equal(VrrpReceiveResult.BadChecksum, VrrpCodec.Validate(buffer.AsSpan(0, n), V3 with { V3ChecksumAsV2 = true }, out _));
    }

    [Fact]
    public void VrrpPacket_TryCreate_ReadsFields()
    {
        var m = Convert.FromHexString("3133640200640a63c6336464c6336465");
        Assert.True(VrrpPacket.TryCreate(m, out var v));
        Assert.Equal((3, 1, 51, 100, 2, 100, Vip2), (v.Version, v.Type, (int)v.VirtualRouterId, (int)v.Priority, (int)v.AddressCount, v.MaxAdvertIntervalCentiseconds, v.GetAddress(1)));
        Assert.False(VrrpPacket.TryCreate(m.AsSpan(0, 15), out _));
    }
}
