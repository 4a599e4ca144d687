namespace Fulcrum.Packets;

/// <summary>EtherType values (IEEE 802.3, as in linux/if_ether.h ETH_P_*).</summary>
public static class EtherTypes
{
    public const ushort Ipv4 = 0x0800;
    public const ushort Arp = 0x0806;
    /// <summary>IEEE 802.1Q customer VLAN tag (ETH_P_8021Q).</summary>
    public const ushort Vlan = 0x8100;
    public const ushort Ipv6 = 0x86DD;
}

/// <summary>IP protocol numbers (IANA; linux/in.h IPPROTO_*).</summary>
public static class IpProtocols
{
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte Icmpv6 = 58;

    // IPv6 extension headers (RFC 8200 section 4, IANA "IPv6 Extension Header Types").
    public const byte Ipv6HopByHop = 0;
    public const byte Ipv6Routing = 43;
    public const byte Ipv6Fragment = 44;
    public const byte Ipv6DestinationOptions = 60;
    public const byte Ah = 51;
    public const byte Ipv6Mobility = 135;
    public const byte Hip = 139;
    public const byte Shim6 = 140;

    /// <summary>
    /// True for the IPv6 extension headers that may precede a TCP/UDP header (the IANA list; ESP is left out:
    /// what follows it is encrypted, so it is a protocol of its own for us).
    /// </summary>
    public static bool IsIpv6ExtensionHeader(byte next) => next switch
    {
        Ipv6HopByHop or Ipv6Routing or Ipv6Fragment or Ipv6DestinationOptions or Ah or Ipv6Mobility or Hip or Shim6 or 253 or 254 => true,
        _ => false,
    };
    public const byte Vrrp = 112;
}

/// <summary>TCP flag bits in header byte 13 (RFC 9293 section 3.1, RFC 3168 for ECE/CWR).</summary>
public static class TcpFlags
{
    public const byte Fin = 0x01;
    public const byte Syn = 0x02;
    public const byte Rst = 0x04;
    public const byte Psh = 0x08;
    public const byte Ack = 0x10;
    public const byte Urg = 0x20;
    public const byte Ece = 0x40;
    public const byte Cwr = 0x80;
}
