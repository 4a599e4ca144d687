using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Fulcrum.Packets;

/// <summary>
/// The Internet checksum (RFC 1071) and its incremental update (RFC 1624), plus completing the
/// TCP/UDP checksum of frames that arrive with only the pseudo-header sum (CHECKSUM_PARTIAL).
/// Sums are kept as unfolded <see cref="uint"/> values so callers can chain several spans, then
/// <see cref="Fold"/> or <see cref="Finish"/> once.
/// </summary>
public static class Checksum
{
    /// <summary>
    /// Adds the 16-bit big-endian words of <paramref name="data"/> to <paramref name="sum"/> (an odd
    /// last byte is padded with a zero byte, RFC 1071 section 4.1). The result is at most
    /// <paramref name="sum"/> + 0xFFFF, so thousands of spans can be chained before folding.
    /// Every span but the last of a chain must have an even length.
    /// </summary>
    public static uint Add(ReadOnlySpan<byte> data, uint sum = 0)
    {
        // RFC 1071 section 2(B)/(C): byte order independence lets us add native-order words and swap
        // once at the end; adding the two 32-bit halves of each 8-byte word into a 64-bit accumulator
        // defers all carries (it cannot overflow below 2^34 bytes).
        ulong acc = 0;
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (ulong w in words)
        {
            acc += (uint)w;
            acc += w >> 32;
        }

        ReadOnlySpan<byte> tail = data[(words.Length * 8)..];
        if (tail.Length >= 4)
        {
            acc += MemoryMarshal.Read<uint>(tail);
            tail = tail[4..];
        }
        if (tail.Length >= 2)
        {
            acc += MemoryMarshal.Read<ushort>(tail);
            tail = tail[2..];
        }
        if (tail.Length == 1)
            acc += BitConverter.IsLittleEndian ? tail[0] : (uint)tail[0] << 8;

        acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
        acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
        ushort folded = Fold((uint)acc);
        if (BitConverter.IsLittleEndian)
            folded = BinaryPrimitives.ReverseEndianness(folded);
        return sum + folded;
    }

    /// <summary>Folds a 32-bit sum to 16 bits with end-around carry (one's complement addition).</summary>
    public static ushort Fold(uint sum)
    {
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>The value to store in a checksum field: the complement of the folded sum.</summary>
    public static ushort Finish(uint sum) => (ushort)~Fold(sum);

    /// <summary>The Internet checksum of <paramref name="data"/> (its checksum field must be zero).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => Finish(Add(data));

    /// <summary>
    /// The unfolded sum of the IPv4 pseudo-header (RFC 9293 section 3.1, RFC 768): source,
    /// destination, zero + protocol, and the TCP/UDP length.
    /// </summary>
    public static uint PseudoHeaderSum(uint source, uint destination, byte protocol, int l4Length) =>
        (source >> 16) + (source & 0xFFFF) + (destination >> 16) + (destination & 0xFFFF) + protocol + (uint)(ushort)l4Length;

    /// <summary>
    /// The unfolded sum of the IPv6 pseudo-header (RFC 8200 section 8.1): source, destination, the 32-bit
    /// upper-layer packet length and the next header (TCP/UDP), each as 16-bit words.
    /// </summary>
    public static uint PseudoHeaderSum6(UInt128 source, UInt128 destination, byte protocol, int l4Length) =>
        SumWords(source) + SumWords(destination) + ((uint)l4Length >> 16) + ((uint)l4Length & 0xFFFF) + protocol;

    // The eight 16-bit words of an address; each ≤ 0xFFFF, so the sum stays below 2^19.
    private static uint SumWords(UInt128 a)
    {
        ulong hi = (ulong)(a >> 64);
        ulong lo = (ulong)a;
        return (uint)((hi >> 48) + ((hi >> 32) & 0xFFFF) + ((hi >> 16) & 0xFFFF) + (hi & 0xFFFF)
            + (lo >> 48) + ((lo >> 32) & 0xFFFF) + ((lo >> 16) & 0xFFFF) + (lo & 0xFFFF));
    }

    /// <summary>The pseudo-header sum of a classified packet, IPv4 or IPv6.</summary>
    public static uint PseudoHeaderSum(in ParsedPacket p, int l4Length) => p.IsIPv6
        ? PseudoHeaderSum6(p.SourceAddress6, p.DestinationAddress6, p.Protocol, l4Length)
        : PseudoHeaderSum(p.SourceAddress, p.DestinationAddress, p.Protocol, l4Length);

    /// <summary>
    /// RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'): the checksum after one 16-bit field changes from
    /// <paramref name="oldValue"/> to <paramref name="newValue"/>. For UDP keep a 0 ("none") checksum
    /// as 0 and write a 0 result as 0xFFFF; this method does neither.
    /// </summary>
    public static ushort Update16(ushort checksum, ushort oldValue, ushort newValue) =>
        Finish((uint)(ushort)~checksum + (ushort)~oldValue + newValue);

    /// <summary>RFC 1624 eqn. 3 for a 32-bit field (an IPv4 address, a sequence number), as two 16-bit words.</summary>
    public static ushort Update32(ushort checksum, uint oldValue, uint newValue)
    {
        uint notOld = ~oldValue;
        return Finish((uint)(ushort)~checksum + (notOld >> 16) + (notOld & 0xFFFF) + (newValue >> 16) + (newValue & 0xFFFF));
    }

    /// <summary>
    /// Computes and writes the full TCP or UDP checksum (IPv4 or IPv6 pseudo-header + segment) of a frame
    /// the classifier accepted. Frames between veths arrive with CHECKSUM_PARTIAL (the field holds only
    /// the folded pseudo-header sum, TP_STATUS_CSUMNOTREADY on the ring); the real server's stack drops
    /// them unless someone completes the sum, which a NIC would have done on transmit. Any value in the
    /// field is ignored. UDP's computed 0 is written as 0xFFFF (RFC 768). The UDP sum covers the UDP
    /// length field when it is sane (8 .. IP payload), as udp_rcv trims to it; TCP covers the IP payload.
    /// </summary>
    public static void CompleteTransportChecksum(Span<byte> frame, in ParsedPacket p)
    {
        int length = TransportLength(frame, in p);
        Span<byte> segment = frame.Slice(p.L4Offset, length);
        int field = p.Protocol == IpProtocols.Tcp ? TcpHeader.ChecksumOffset : UdpHeader.ChecksumOffset;
        BinaryPrimitives.WriteUInt16BigEndian(segment[field..], 0);
        ushort value = Finish(Add(segment, PseudoHeaderSum(in p, length)));
        if (value == 0 && p.Protocol == IpProtocols.Udp)
            value = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(segment[field..], value);
    }

    /// <summary>
    /// For drivers that do not report CHECKSUM_PARTIAL (AF_XDP): when the frame's TCP/UDP checksum field holds
    /// only the pseudo-header sum (what a local sender's CHECKSUM_PARTIAL skb carries, ~csum_tcpudp_magic in
    /// __tcp_v4_send_check and udp4_hwcsum) and the full sum does not verify, completes it in one pass and
    /// returns true. A complete checksum, a UDP checksum of 0 and any other wrong sum (a corrupted frame,
    /// which the real server must drop as it would have) are left as they are.
    /// </summary>
    public static bool RepairPartialTransportChecksum(Span<byte> frame, in ParsedPacket p)
    {
        int length = TransportLength(frame, in p);
        Span<byte> segment = frame.Slice(p.L4Offset, length);
        int field = p.Protocol == IpProtocols.Tcp ? TcpHeader.ChecksumOffset : UdpHeader.ChecksumOffset;
        ushort current = BinaryPrimitives.ReadUInt16BigEndian(segment[field..]);
        if (current == 0 && p.Protocol == IpProtocols.Udp)
            return false;
        uint pseudo = PseudoHeaderSum(in p, length);
        if (current != Fold(pseudo))
            return false;
        uint sum = Add(segment, pseudo);
        if (Fold(sum) == 0xFFFF)
            return false;
        // sum covered the field's current value; adding its complement takes it out again (RFC 1071).
        ushort value = Finish(sum + (ushort)~current);
        if (value == 0 && p.Protocol == IpProtocols.Udp)
            value = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(segment[field..], value);
        return true;
    }

    /// <summary>
    /// True when the TCP or UDP checksum of a classified frame verifies (a UDP checksum of 0, "none",
    /// counts as valid over IPv4; over IPv6 it is invalid, RFC 8200 section 8.1). Meant for tests and
    /// diagnostics, not the forwarding path.
    /// </summary>
    public static bool VerifyTransportChecksum(ReadOnlySpan<byte> frame, in ParsedPacket p)
    {
        int length = TransportLength(frame, in p);
        ReadOnlySpan<byte> segment = frame.Slice(p.L4Offset, length);
        if (p.Protocol == IpProtocols.Udp && BinaryPrimitives.ReadUInt16BigEndian(segment[UdpHeader.ChecksumOffset..]) == 0)
            return !p.IsIPv6;
        return Fold(Add(segment, PseudoHeaderSum(in p, length))) == 0xFFFF;
    }

    private static int TransportLength(ReadOnlySpan<byte> frame, in ParsedPacket p)
    {
        int length = p.L4Length;
        if (p.Protocol == IpProtocols.Udp)
        {
            int udpLength = BinaryPrimitives.ReadUInt16BigEndian(frame[(p.L4Offset + 4)..]);
            if (udpLength >= UdpHeader.Length && udpLength <= length)
                length = udpLength;
        }
        return length;
    }
}
