namespace Fulcrum.Packets;

/// <summary>The classifier's verdict on one frame.</summary>
public enum FrameKind : byte
{
    /// <summary>A well-formed IPv4 or IPv6 TCP or UDP packet: <see cref="ParsedPacket"/> is filled.</summary>
    Transport,

    /// <summary>Not ours to balance (ARP, ICMP, ICMPv6/NDP, other protocols): the kernel keeps it.</summary>
    Other,

    /// <summary>Broken or unbalanceable: counted by <see cref="DropReason"/> and dropped.</summary>
    Malformed,
}
