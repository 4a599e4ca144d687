namespace Fulcrum.Packets;

/// <summary>
/// What the classifier learned from one IPv4 or IPv6 TCP/UDP frame: offsets into the frame and the fields
/// the balancer needs. Addresses and ports are host order. Filled in place; never allocates.
/// </summary>
public struct ParsedPacket
{
    /// <summary>Offset of the IP header in the frame (14, or 18 behind one 802.1Q tag).</summary>
    public int L3Offset;

    /// <summary>Offset of the TCP/UDP header in the frame.</summary>
    public int L4Offset;

    /// <summary>IP protocol number: 6 (TCP) or 17 (UDP).</summary>
    public byte Protocol;

    /// <summary>TCP flags byte (FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10); 0 for UDP.</summary>
    public byte TcpFlags;

    /// <summary>True for an IPv6 packet: <see cref="SourceAddress6"/> and <see cref="DestinationAddress6"/> hold its addresses.</summary>
    public bool IsIPv6;

    /// <summary>
    /// IPv4 source address, host order. For IPv6, the kernel's 32-bit fold of the source (the XOR of its four
    /// words, addr_fold in ip_vs_sh_hashkey/ip_vs_dh_hashkey/ip_vs_mh_hashkey), which hashing schedulers use.
    /// </summary>
    public uint SourceAddress;

    /// <summary>IPv4 destination address, host order; for IPv6 the 32-bit fold of the destination (see <see cref="SourceAddress"/>).</summary>
    public uint DestinationAddress;

    /// <summary>TCP/UDP source port, host order.</summary>
    public ushort SourcePort;

    /// <summary>TCP/UDP destination port, host order.</summary>
    public ushort DestinationPort;

    /// <summary>IP packet length (IPv4 total length; IPv6 40 + payload length): the bytes IPVS counts in InBytes.</summary>
    public int IpLength;

    /// <summary>IPv6 source address (first wire byte most significant); 0 for IPv4.</summary>
    public UInt128 SourceAddress6;

    /// <summary>IPv6 destination address (first wire byte most significant); 0 for IPv4.</summary>
    public UInt128 DestinationAddress6;

    /// <summary>Bytes from the TCP/UDP header to the end of the IP packet (Ethernet padding excluded).</summary>
    public readonly int L4Length => IpLength - (L4Offset - L3Offset);

    /// <summary>
    /// The kernel's addr_fold of an IPv6 address: the XOR of its four 32-bit words. XOR commutes with the
    /// byte swap, so folding host-order words equals ntohl of the kernel's fold of network-order words.
    /// </summary>
    public static uint Fold(UInt128 address)
    {
        ulong hi = (ulong)(address >> 64);
        ulong lo = (ulong)address;
        ulong x = hi ^ lo;
        return (uint)(x >> 32) ^ (uint)x;
    }
}
