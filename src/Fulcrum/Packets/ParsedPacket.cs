namespace Fulcrum.Packets;

/// <summary>
/// What the classifier learned from one IPv4 TCP/UDP frame: offsets into the frame and the fields
/// the balancer needs. Addresses and ports are host order. Filled in place; never allocates.
/// </summary>
public struct ParsedPacket
{
    /// <summary>Offset of the IPv4 header in the frame (14, or 18 behind one 802.1Q tag).</summary>
    public int L3Offset;

    /// <summary>Offset of the TCP/UDP header in the frame.</summary>
    public int L4Offset;

    /// <summary>IP protocol number: 6 (TCP) or 17 (UDP).</summary>
    public byte Protocol;

    /// <summary>TCP flags byte (FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10); 0 for UDP.</summary>
    public byte TcpFlags;

    /// <summary>IPv4 source address, host order.</summary>
    public uint SourceAddress;

    /// <summary>IPv4 destination address, host order.</summary>
    public uint DestinationAddress;

    /// <summary>TCP/UDP source port, host order.</summary>
    public ushort SourcePort;

    /// <summary>TCP/UDP destination port, host order.</summary>
    public ushort DestinationPort;

    /// <summary>IPv4 total length: the bytes IPVS counts in InBytes.</summary>
    public int IpLength;

    /// <summary>Bytes from the TCP/UDP header to the end of the IPv4 packet (Ethernet padding excluded).</summary>
    public readonly int L4Length => IpLength - (L4Offset - L3Offset);
}
