using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fulcrum.Packets;

/// <summary>
/// The first look at every received frame: Ethernet (+ at most one 802.1Q tag) → IPv4 or IPv6 → TCP/UDP.
/// Bounds-checks every read before it (as Katran's parser does), never throws and never allocates.
/// </summary>
public static class FrameClassifier
{
    /// <summary>
    /// Classifies one frame. <see cref="FrameKind.Transport"/>: <paramref name="packet"/> is filled and
    /// <paramref name="reason"/> is <see cref="DropReason.None"/>. <see cref="FrameKind.Other"/>: a
    /// non-IP EtherType (ARP, stacked tags ...) or an IP protocol other than TCP/UDP (ICMPv6 and NDP too); the
    /// kernel keeps it. <see cref="FrameKind.Malformed"/>: <paramref name="reason"/> says why.
    /// </summary>
    /// <remarks>
    /// Checks run in this order and the first failure is reported: TooShort (frame &lt; 14 bytes or a
    /// tag that does not fit); Truncated (fewer than 20 bytes after L2); BadIhl (version nibble not 4
    /// under an IPv4 EtherType, as ip_rcv_core treats it like a bad IHL, or IHL &lt; 5, or the header
    /// beyond the frame); BadLength (total length &lt; IHL*4 or beyond the frame; Ethernet padding after
    /// it is fine); BadChecksum (header checksum); then protocols other than TCP/UDP are Other, even when
    /// fragmented; Fragment (MF set or offset non-zero); Truncated (TCP payload &lt; 20 or UDP &lt; 8 bytes
    /// within the total length); BadTcpHeader (data offset &lt; 5 or beyond the total length).
    /// IPv6 (<see cref="ClassifyIpv6"/>): Truncated (fewer than 40 bytes); BadIpv6Header (version not 6, or a
    /// multicast source); BadLength (40 + payload length beyond the frame); then by next header: TCP/UDP as
    /// for IPv4; Fragment (a Fragment header); ExtensionHeader (any other extension header); the rest is Other.
    /// </remarks>
    public static FrameKind Classify(Span<byte> frame, out ParsedPacket packet, out DropReason reason)
    {
        packet = default;
        reason = DropReason.None;

        if (frame.Length < EthernetFrame.HeaderLength)
            return Malformed(DropReason.TooShort, out reason);
        int l3 = EthernetFrame.HeaderLength;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (etherType == EtherTypes.Vlan)
        {
            if (frame.Length < EthernetFrame.TaggedHeaderLength)
                return Malformed(DropReason.TooShort, out reason);
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
            l3 = EthernetFrame.TaggedHeaderLength;
        }
        if (etherType != EtherTypes.Ipv4)
            return etherType == EtherTypes.Ipv6 ? ClassifyIpv6(frame, l3, ref packet, out reason) : FrameKind.Other;

        Span<byte> ip = frame[l3..];
        if (ip.Length < Ipv4Header.MinLength)
            return Malformed(DropReason.Truncated, out reason);
        int ihl = (ip[0] & 0xF) * 4;
        if (ip[0] >> 4 != 4 || ihl < Ipv4Header.MinLength || ihl > ip.Length)
            return Malformed(DropReason.BadIhl, out reason);
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (totalLength < ihl || totalLength > ip.Length)
            return Malformed(DropReason.BadLength, out reason);
        if (Checksum.Fold(Checksum.Add(ip[..ihl])) != 0xFFFF)
            return Malformed(DropReason.BadChecksum, out reason);

        byte protocol = ip[9];
        if (protocol != IpProtocols.Tcp && protocol != IpProtocols.Udp)
            return FrameKind.Other;
        if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & (Ipv4Header.MoreFragmentsBit | Ipv4Header.FragmentOffsetMask)) != 0)
            return Malformed(DropReason.Fragment, out reason);

        Span<byte> l4 = ip[ihl..totalLength];
        if (!CheckTransport(l4, protocol, out byte tcpFlags, out reason))
            return FrameKind.Malformed;

        packet.L3Offset = l3;
        packet.L4Offset = l3 + ihl;
        packet.Protocol = protocol;
        packet.TcpFlags = tcpFlags;
        packet.SourceAddress = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        packet.DestinationAddress = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        packet.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(l4);
        packet.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(l4[2..]);
        packet.IpLength = totalLength;
        return FrameKind.Transport;
    }

    /// <summary>
    /// The IPv6 half of <see cref="Classify"/>: the fixed header (RFC 8200 section 3) and a TCP/UDP header right
    /// behind it. Extension headers are not walked (see <see cref="DropReason.ExtensionHeader"/>).
    /// </summary>
    private static FrameKind ClassifyIpv6(Span<byte> frame, int l3, ref ParsedPacket packet, out DropReason reason)
    {
        reason = DropReason.None;
        Span<byte> ip = frame[l3..];
        if (ip.Length < Ipv6Header.Length)
            return Malformed(DropReason.Truncated, out reason);
        if (ip[0] >> 4 != 6 || ip[8] == 0xFF)
            return Malformed(DropReason.BadIpv6Header, out reason);
        int length = Ipv6Header.Length + BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
        if (length > ip.Length)
            return Malformed(DropReason.BadLength, out reason);

        byte next = ip[6];
        if (next != IpProtocols.Tcp && next != IpProtocols.Udp)
        {
            if (next == IpProtocols.Ipv6Fragment)
                return Malformed(DropReason.Fragment, out reason);
            return IpProtocols.IsIpv6ExtensionHeader(next) ? Malformed(DropReason.ExtensionHeader, out reason) : FrameKind.Other;
        }

        Span<byte> l4 = ip[Ipv6Header.Length..length];
        if (!CheckTransport(l4, next, out byte tcpFlags, out reason))
            return FrameKind.Malformed;

        packet.L3Offset = l3;
        packet.L4Offset = l3 + Ipv6Header.Length;
        packet.Protocol = next;
        packet.TcpFlags = tcpFlags;
        packet.IsIPv6 = true;
        packet.SourceAddress6 = BinaryPrimitives.ReadUInt128BigEndian(ip[8..]);
        packet.DestinationAddress6 = BinaryPrimitives.ReadUInt128BigEndian(ip[24..]);
        packet.SourceAddress = ParsedPacket.Fold(packet.SourceAddress6);
        packet.DestinationAddress = ParsedPacket.Fold(packet.DestinationAddress6);
        packet.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(l4);
        packet.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(l4[2..]);
        packet.IpLength = length;
        return FrameKind.Transport;
    }

    /// <summary>Truncated (TCP &lt; 20 or UDP &lt; 8 bytes) or BadTcpHeader (data offset &lt; 5 or beyond the segment).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool CheckTransport(Span<byte> l4, byte protocol, out byte tcpFlags, out DropReason reason)
    {
        tcpFlags = 0;
        reason = DropReason.None;
        if (protocol == IpProtocols.Tcp)
        {
            if (l4.Length < TcpHeader.MinLength)
            {
                reason = DropReason.Truncated;
                return false;
            }
            int dataOffset = (l4[12] >> 4) * 4;
            if (dataOffset < TcpHeader.MinLength || dataOffset > l4.Length)
            {
                reason = DropReason.BadTcpHeader;
                return false;
            }
            tcpFlags = l4[13];
        }
        else if (l4.Length < UdpHeader.Length)
        {
            reason = DropReason.Truncated;
            return false;
        }
        return true;
    }

    private static FrameKind Malformed(DropReason why, out DropReason reason)
    {
        reason = why;
        return FrameKind.Malformed;
    }
}
