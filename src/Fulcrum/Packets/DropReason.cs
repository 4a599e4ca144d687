namespace Fulcrum.Packets;

/// <summary>
/// Why the data plane dropped a frame. Every drop is counted under exactly one reason
/// (the counters are arrays indexed by this enum; keep values dense and <see cref="Count"/> last).
/// </summary>
public enum DropReason : byte
{
    None = 0,

    // Frame and header checks (Packets/).
    /// <summary>Shorter than an Ethernet header (or a tag that does not fit).</summary>
    TooShort,
    /// <summary>IPv4 header or L4 header does not fit in the captured bytes.</summary>
    Truncated,
    /// <summary>IPv4 IHL below 5 words or beyond the frame, or a version nibble other than 4 under the IPv4 EtherType.</summary>
    BadIhl,
    /// <summary>IPv4 total length smaller than the header or larger than the frame.</summary>
    BadLength,
    /// <summary>IPv4 header checksum does not verify.</summary>
    BadChecksum,
    /// <summary>
    /// An IPv4 fragment (MF set or offset non-zero), or an IPv6 packet whose next header is a Fragment header
    /// (RFC 8200 section 4.5): ports are unknown or not in this frame, so it is not balanced here.
    /// </summary>
    Fragment,
    /// <summary>TCP data offset below 5 words or beyond the packet.</summary>
    BadTcpHeader,

    // Balancing and forwarding (Balancing/, Director/).
    /// <summary>A new flow for a virtual service with no usable real server (all weight 0, overloaded or none).</summary>
    NoRealServer,
    /// <summary>A new TCP flow whose first segment is not a SYN (IPVS does not schedule those).</summary>
    NotSyn,
    /// <summary>The connection table is at its memory bound.</summary>
    TableFull,
    /// <summary>The real server's MAC is not (yet) in the neighbour table.</summary>
    NoNeighbour,
    /// <summary>The TX ring had no free slot.</summary>
    TxFull,
    /// <summary>The drop_packet defense dropped a connection-creating packet (ip_vs_todrop).</summary>
    DefenseDropPacket,

    // IPv6 (Packets/), after the IPv4 and balancing reasons so their numbers stay as they were.
    /// <summary>A version nibble other than 6 under the IPv6 EtherType, or a multicast source (RFC 4291 2.7; ip6_rcv_core drops both).</summary>
    BadIpv6Header,
    /// <summary>
    /// An IPv6 packet whose next header is an extension header other than Fragment (hop-by-hop, routing,
    /// destination options, AH, mobility, HIP, shim6, experimental): the data plane does not walk them, so a
    /// TCP/UDP packet behind one is not balanced. The kernel's IPVS skips them (ipv6_find_hdr); we count instead.
    /// </summary>
    ExtensionHeader,

    Count,
}
