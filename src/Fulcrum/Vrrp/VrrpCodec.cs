using System.Buffers.Binary;
using Fulcrum.Packets;

namespace Fulcrum.Vrrp;

/// <summary>What an instance puts in, and expects of, every advertisement (fixed per instance).</summary>
/// <param name="Version">2 (RFC 3768) or 3 (RFC 5798).</param>
/// <param name="VirtualRouterId">1..255.</param>
/// <param name="Addresses">The IPv4 virtual addresses, host order, in configuration order.</param>
/// <param name="AdvertInterval">v2: whole seconds 1..255; v3: centiseconds 1..4095.</param>
/// <param name="Password">v2 PASS authentication: up to 8 bytes, zero-padded on the wire; null for none.</param>
/// <param name="V3ChecksumAsV2">keepalived's v3_checksum_as_v2: v3 IPv4 checksum without the pseudo-header.</param>
/// <param name="Ipv6Addresses">IPv6 (v3 only, RFC 5798 §5.2.9): the virtual addresses as 128-bit numbers; <paramref name="Addresses"/> is then empty.</param>
public sealed record VrrpMessageFormat(
    int Version,
    byte VirtualRouterId,
    IReadOnlyList<uint> Addresses,
    TimeSpan AdvertInterval,
    byte[]? Password = null,
    bool V3ChecksumAsV2 = false,
    IReadOnlyList<UInt128>? Ipv6Addresses = null)
{
    public bool IsIpv6 => Ipv6Addresses is not null;

    /// <summary>How many addresses an advert carries.</summary>
    public int AddressCount => Ipv6Addresses?.Count ?? Addresses.Count;

    /// <summary>The advert interval as the packet carries it: seconds (v2) or centiseconds (v3).</summary>
    public int WireInterval => Version == 2
        ? (int)Math.Clamp(Math.Round(AdvertInterval.TotalSeconds), 1, 255)
        : (int)Math.Clamp(Math.Round(AdvertInterval.TotalMilliseconds / 10), 1, 0xFFF);
}

/// <summary>A validated advertisement: who sent it, with what priority and interval.</summary>
/// <param name="Source">The source address as a number (IPv4 host order in the low 32 bits; IPv6 the sender's link-local): the sender's primary address.</param>
public readonly record struct VrrpAdvertisement(UInt128 Source, byte Priority, TimeSpan AdvertInterval);

/// <summary>Why a received packet was not accepted (keepalived's vrrp_check_packet reasons).</summary>
public enum VrrpReceiveResult
{
    Ok,
    /// <summary>A valid packet for another virtual router id; not an error.</summary>
    OtherRouter,
    NotVrrp,
    TooShort,
    BadTtl,
    VersionMismatch,
    BadType,
    BadChecksum,
    AddressCountMismatch,
    AddressMismatch,
    AuthMismatch,
    IntervalMismatch,
}

/// <summary>Builds and checks VRRP advertisements in IPv4 packets, as keepalived's vrrp.c does.</summary>
public static class VrrpCodec
{
    /// <summary>224.0.0.18 (RFC 3768 §5.2.2, RFC 5798 §5.1.1.2), host order.</summary>
    public const uint MulticastGroup = 0xE0000012;

    public const byte Ttl = 255;

    /// <summary>keepalived's IPv4 TOS for adverts (vrrp.c vrrp_build_ip4: IPTOS_PREC_INTERNETCONTROL).</summary>
    public const byte TypeOfService = 0xC0;

    /// <summary>An advert with 255 IPv6 addresses (or an IPv4 header, 255 IPv4 addresses and auth data): enough for any we build.</summary>
    public const int MaxPacketLength = VrrpPacket.HeaderLength + (255 * 16);

    /// <summary>ff02::12 (RFC 5798 §5.1.2.2).</summary>
    public static readonly UInt128 MulticastGroup6 = new(0xFF02_0000_0000_0000, 0x12);

    /// <summary>
    /// Writes a v3 advertisement for IPv6 (the message only: the kernel's raw IPv6 socket adds the header, hop
    /// limit 255, from <paramref name="source"/>). The checksum covers the IPv6 pseudo-header of RFC 8200 §8.1
    /// (source, destination, upper-layer length, next header 112), as RFC 5798 §5.2.8 requires. Returns its length.
    /// </summary>
    public static int WriteIpv6Message(Span<byte> destination, VrrpMessageFormat format, byte priority, UInt128 source, UInt128 target)
    {
        ArgumentNullException.ThrowIfNull(format);
        var addresses = format.Ipv6Addresses ?? throw new ArgumentException("not an IPv6 format", nameof(format));
        int length = VrrpPacket.HeaderLength + (addresses.Count * 16);
        Span<byte> m = destination[..length];
        m.Clear();
        m[0] = (3 << 4) | VrrpPacket.TypeAdvertisement;
        m[1] = format.VirtualRouterId;
        m[2] = priority;
        m[3] = (byte)addresses.Count;
        BinaryPrimitives.WriteUInt16BigEndian(m[4..], (ushort)(format.WireInterval & 0xFFF));
        for (int i = 0; i < addresses.Count; i++)
            BinaryPrimitives.WriteUInt128BigEndian(m[(VrrpPacket.HeaderLength + (i * 16))..], addresses[i]);
        BinaryPrimitives.WriteUInt16BigEndian(m[6..], Checksum.Finish(Checksum.Add(m, PseudoHeaderSum6(source, target, length))));
        return length;
    }

    /// <summary>
    /// Checks a received IPv6 advert (the message; the raw socket strips the IPv6 header, and the kernel
    /// enforces hop limit 255 through IPV6_MINHOPCOUNT) from <paramref name="source"/> to <paramref name="target"/>:
    /// version 3, type, VRID, pseudo-header checksum, the address list, a non-zero interval.
    /// </summary>
    public static VrrpReceiveResult ValidateIpv6(Span<byte> message, VrrpMessageFormat format, UInt128 source, UInt128 target, out VrrpAdvertisement advertisement)
    {
        ArgumentNullException.ThrowIfNull(format);
        advertisement = default;
        var addresses = format.Ipv6Addresses ?? throw new ArgumentException("not an IPv6 format", nameof(format));
        if (message.Length < VrrpPacket.HeaderLength)
            return VrrpReceiveResult.TooShort;
        int count = message[3];
        int length = VrrpPacket.HeaderLength + (count * 16);
        if (message.Length < length)
            return VrrpReceiveResult.TooShort;
        if (message[0] >> 4 != 3)
            return VrrpReceiveResult.VersionMismatch;
        if ((message[0] & 0xF) != VrrpPacket.TypeAdvertisement)
            return VrrpReceiveResult.BadType;
        if (message[1] != format.VirtualRouterId)
            return VrrpReceiveResult.OtherRouter;
        if (Checksum.Fold(Checksum.Add(message, PseudoHeaderSum6(source, target, message.Length))) != 0xFFFF)
            return VrrpReceiveResult.BadChecksum;
        if (count != addresses.Count)
            return VrrpReceiveResult.AddressCountMismatch;
        for (int i = 0; i < addresses.Count; i++)
        {
            bool found = false;
            for (int j = 0; j < count && !found; j++)
                found = BinaryPrimitives.ReadUInt128BigEndian(message[(VrrpPacket.HeaderLength + (j * 16))..]) == addresses[i];
            if (!found)
                return VrrpReceiveResult.AddressMismatch;
        }

        int centiseconds = BinaryPrimitives.ReadUInt16BigEndian(message[4..]) & 0xFFF;
        if (centiseconds == 0)
            return VrrpReceiveResult.IntervalMismatch;
        advertisement = new VrrpAdvertisement(source, message[2], TimeSpan.FromMilliseconds(centiseconds * 10));
        return VrrpReceiveResult.Ok;
    }

    /// <summary>The one's-complement sum of the IPv6 pseudo-header (RFC 8200 §8.1) for protocol 112.</summary>
    internal static uint PseudoHeaderSum6(UInt128 source, UInt128 target, int upperLayerLength) =>
        UnsolicitedNeighborAdvertisement.PseudoHeaderSum(source, target, upperLayerLength, IpProtocols.Vrrp);

    /// <summary>
    /// Writes a whole IPv4 packet (20-byte header, TOS 0xc0, id 0, TTL <paramref name="ttl"/>, protocol 112,
    /// header checksum) carrying an advertisement with <paramref name="priority"/>. Returns its length.
    /// The v3 checksum covers the IPv4 pseudo-header (RFC 5798 §5.2.8), v2 only the message (RFC 3768 §5.3.8).
    /// </summary>
    public static int WriteIpv4(Span<byte> destination, VrrpMessageFormat format, byte priority, uint source, uint target, byte ttl = Ttl)
    {
        ArgumentNullException.ThrowIfNull(format);
        int count = format.Addresses.Count;
        int messageLength = VrrpPacket.LengthOf(format.Version, count);
        int total = Ipv4Header.MinLength + messageLength;
        Span<byte> p = destination[..total];
        p.Clear();

        p[0] = 0x45;
        p[1] = TypeOfService;
        BinaryPrimitives.WriteUInt16BigEndian(p[2..], (ushort)total);
        p[8] = ttl;
        p[9] = IpProtocols.Vrrp;
        BinaryPrimitives.WriteUInt32BigEndian(p[12..], source);
        BinaryPrimitives.WriteUInt32BigEndian(p[16..], target);
        BinaryPrimitives.WriteUInt16BigEndian(p[10..], Checksum.Compute(p[..Ipv4Header.MinLength]));

        Span<byte> m = p[Ipv4Header.MinLength..];
        m[0] = (byte)((format.Version << 4) | VrrpPacket.TypeAdvertisement);
        m[1] = format.VirtualRouterId;
        m[2] = priority;
        m[3] = (byte)count;
        if (format.Version == 2)
        {
            m[4] = format.Password is null ? (byte)0 : (byte)1;
            m[5] = (byte)format.WireInterval;
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(m[4..], (ushort)(format.WireInterval & 0xFFF));
        }

        for (int i = 0; i < count; i++)
            BinaryPrimitives.WriteUInt32BigEndian(m[(VrrpPacket.HeaderLength + (i * 4))..], format.Addresses[i]);
        if (format.Version == 2 && format.Password is not null)
            format.Password.AsSpan(0, Math.Min(format.Password.Length, VrrpPacket.AuthDataLength)).CopyTo(m[(VrrpPacket.HeaderLength + (count * 4))..]);

        uint sum = format.Version == 3 && !format.V3ChecksumAsV2
            ? Checksum.PseudoHeaderSum(source, target, IpProtocols.Vrrp, messageLength)
            : 0;
        BinaryPrimitives.WriteUInt16BigEndian(m[6..], Checksum.Finish(Checksum.Add(m, sum)));
        return total;
    }

    /// <summary>
    /// Checks a received IPv4 packet (header included, as a raw socket delivers it) against what this
    /// instance expects: RFC 3768 §7.1 / RFC 5798 §7.1 and keepalived's vrrp_check_packet. TTL must be 255
    /// when the packet went to a multicast group (unicast is not checked, as keepalived does).
    /// </summary>
    public static VrrpReceiveResult Validate(Span<byte> packet, VrrpMessageFormat format, out VrrpAdvertisement advertisement)
    {
        ArgumentNullException.ThrowIfNull(format);
        advertisement = default;
        if (!Ipv4Header.TryCreate(packet, out var ip) || ip.Protocol != IpProtocols.Vrrp)
            return VrrpReceiveResult.NotVrrp;
        int total = ip.TotalLength;
        if (total > packet.Length || total < ip.HeaderLength + VrrpPacket.HeaderLength)
            return VrrpReceiveResult.TooShort;
        Span<byte> payload = packet[ip.HeaderLength..total];
        if (!VrrpPacket.TryCreate(payload, out var vrrp))
            return VrrpReceiveResult.TooShort;
        if ((ip.Destination & 0xF0000000) == 0xE0000000 && ip.TimeToLive != Ttl)
            return VrrpReceiveResult.BadTtl;
        if (vrrp.Version != format.Version)
            return VrrpReceiveResult.VersionMismatch;
        if (vrrp.Type != VrrpPacket.TypeAdvertisement)
            return VrrpReceiveResult.BadType;
        if (vrrp.VirtualRouterId != format.VirtualRouterId)
            return VrrpReceiveResult.OtherRouter;

        uint sum = format.Version == 3 && !format.V3ChecksumAsV2
            ? Checksum.PseudoHeaderSum(ip.Source, ip.Destination, IpProtocols.Vrrp, payload.Length)
            : 0;
        if (Checksum.Fold(Checksum.Add(payload, sum)) != 0xFFFF)
            return VrrpReceiveResult.BadChecksum;

        if (vrrp.AddressCount != format.Addresses.Count)
            return VrrpReceiveResult.AddressCountMismatch;
        for (int i = 0; i < format.Addresses.Count; i++)
        {
            if (!Contains(vrrp, format.Addresses[i]))
                return VrrpReceiveResult.AddressMismatch;
        }

        TimeSpan interval;
        if (format.Version == 2)
        {
            if (!AuthMatches(vrrp, format.Password))
                return VrrpReceiveResult.AuthMismatch;

            // RFC 3768 §7.1: a v2 advert whose interval differs from ours MUST be discarded.
            if (vrrp.AdvertIntervalSeconds != format.WireInterval)
                return VrrpReceiveResult.IntervalMismatch;
            interval = TimeSpan.FromSeconds(vrrp.AdvertIntervalSeconds);
        }
        else
        {
            // RFC 5798 §6.4.2: a backup learns Master_Adver_Interval from the advert; 0 is meaningless.
            if (vrrp.MaxAdvertIntervalCentiseconds == 0)
                return VrrpReceiveResult.IntervalMismatch;
            interval = TimeSpan.FromMilliseconds(vrrp.MaxAdvertIntervalCentiseconds * 10);
        }

        advertisement = new VrrpAdvertisement(ip.Source, vrrp.Priority, interval);
        return VrrpReceiveResult.Ok;
    }

    private static bool Contains(VrrpPacket vrrp, uint address)
    {
        for (int i = 0; i < vrrp.AddressCount; i++)
        {
            if (vrrp.GetAddress(i) == address)
                return true;
        }

        return false;
    }

    private static bool AuthMatches(VrrpPacket vrrp, byte[]? password)
    {
        if (password is null)
            return vrrp.AuthType == 0;
        if (vrrp.AuthType != 1)
            return false;
        Span<byte> expected = stackalloc byte[VrrpPacket.AuthDataLength];
        expected.Clear();
        password.AsSpan(0, Math.Min(password.Length, VrrpPacket.AuthDataLength)).CopyTo(expected);
        return vrrp.AuthData.SequenceEqual(expected);
    }
}
