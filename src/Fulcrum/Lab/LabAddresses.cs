using System.Net;

namespace Fulcrum.Lab;

/// <summary>
/// The lab's addresses (design.md, "The lab"): documentation ranges only (RFC 5737, RFC 3849).
/// IPv6 mirrors IPv4: the host part is the same number (203.0.113.10 → 2001:db8:113::10,
/// 198.51.100.2 → 2001:db8:100::2), configured only in a lab with <see cref="LabCluster.Ipv6"/>.
/// MAC addresses are fixed too, locally administered (02:00) followed by the interface's IPv4
/// address, so captures and neighbour tables read at a glance.
/// </summary>
public static class LabAddresses
{
    public const int PrefixLength = 24;

    public static IPAddress Client { get; } = IPAddress.Parse("203.0.113.10");

    public static IPAddress RouterClientSide { get; } = IPAddress.Parse("203.0.113.1");

    public static IPAddress RouterServerSide { get; } = IPAddress.Parse("198.51.100.254");

    public static IPAddress Lb1 { get; } = IPAddress.Parse("198.51.100.11");

    public static IPAddress Lb2 { get; } = IPAddress.Parse("198.51.100.12");

    public static IPAddress Rs1 { get; } = IPAddress.Parse("198.51.100.2");

    public static IPAddress Rs2 { get; } = IPAddress.Parse("198.51.100.3");

    public static IPAddress Rs3 { get; } = IPAddress.Parse("198.51.100.4");

    public static IPAddress Vip { get; } = IPAddress.Parse("198.51.100.100");

    /// <summary>The IPv6 VIP: on the real servers' lo (and a director's eth0) in a lab with <see cref="LabCluster.Ipv6"/>.</summary>
    public static IPAddress VipV6 { get; } = IPAddress.Parse("2001:db8:100::100");

    /// <summary>Prefix length of the lab's two IPv6 segments (client side 2001:db8:113::/64, server side 2001:db8:100::/64).</summary>
    public const int PrefixLengthV6 = 64;

    public static IPAddress ClientV6 { get; } = IPAddress.Parse("2001:db8:113::10");

    public static IPAddress RouterClientSideV6 { get; } = IPAddress.Parse("2001:db8:113::1");

    public static IPAddress RouterServerSideV6 { get; } = IPAddress.Parse("2001:db8:100::254");

    public static IPAddress Lb1V6 { get; } = IPAddress.Parse("2001:db8:100::11");

    public static IPAddress Lb2V6 { get; } = IPAddress.Parse("2001:db8:100::12");

    public static IPAddress Rs1V6 { get; } = IPAddress.Parse("2001:db8:100::2");

    public static IPAddress Rs2V6 { get; } = IPAddress.Parse("2001:db8:100::3");

    public static IPAddress Rs3V6 { get; } = IPAddress.Parse("2001:db8:100::4");

    /// <summary>The real servers' IPv6 addresses, in the order rs1, rs2, rs3.</summary>
    public static IReadOnlyList<IPAddress> RealServersV6 { get; } = [Rs1V6, Rs2V6, Rs3V6];

    /// <summary>The IPv6 address of a host's eth0 (the router's is its client side).</summary>
    public static IPAddress OfV6(string host) => host switch
    {
        "client" => ClientV6,
        "router" => RouterClientSideV6,
        "lb1" => Lb1V6,
        "lb2" => Lb2V6,
        "rs1" => Rs1V6,
        "rs2" => Rs2V6,
        "rs3" => Rs3V6,
        _ => throw new ArgumentException($"no lab host '{host}'", nameof(host)),
    };

    /// <summary>The real servers' addresses, in the order rs1, rs2, rs3.</summary>
    public static IReadOnlyList<IPAddress> RealServers { get; } = [Rs1, Rs2, Rs3];

    /// <summary>The address of a host's eth0 (the router's is its client side).</summary>
    public static IPAddress Of(string host) => host switch
    {
        "client" => Client,
        "router" => RouterClientSide,
        "lb1" => Lb1,
        "lb2" => Lb2,
        "rs1" => Rs1,
        "rs2" => Rs2,
        "rs3" => Rs3,
        _ => throw new ArgumentException($"no lab host '{host}'", nameof(host)),
    };

    /// <summary>The fixed MAC of a host's interface: 02:00 followed by that interface's IPv4 address.</summary>
    public static string MacOf(string host, string device = "eth0")
    {
        var address = host == "router" && device == "eth1" ? RouterServerSide : Of(host);
        var b = address.GetAddressBytes();
        return $"02:00:{b[0]:x2}:{b[1]:x2}:{b[2]:x2}:{b[3]:x2}";
    }
}
