namespace Fulcrum.Packets;

/// <summary>The classifier's verdict on one frame.</summary>
public enum FrameKind : byte
{
    /// <summary>A well-formed IPv4 TCP or UDP packet: <see cref="ParsedPacket"/> is filled.</summary>
    Transport,

    /// <summary>Not ours to balance (ARP, IPv6, ICMP, other protocols): the kernel keeps it.</summary>
    Other,

    /// <summary>Broken or unbalanceable: counted by <see cref="DropReason"/> and dropped.</summary>
    Malformed,
}
