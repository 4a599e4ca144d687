namespace Fulcrum.RealServerSetup;

/// <summary>
/// The few things preparing a real server touches, in one network namespace. Sysctl keys use the
/// slash form under /proc/sys ("net/ipv4/conf/eth0/arp_ignore") so device names with dots (VLANs) stay
/// unambiguous.
/// </summary>
public interface IRealServerHost
{
    /// <summary>A name for the namespace that stays the same while it lives (for the state file name).</summary>
    string NamespaceKey { get; }

    /// <summary>Current values, trimmed, in the order asked; null where the key does not exist.</summary>
    IReadOnlyList<string?> ReadSysctls(IReadOnlyList<string> keys);

    void WriteSysctls(IReadOnlyList<KeyValuePair<string, string>> values);

    /// <summary>Whether <paramref name="cidr"/> ("198.51.100.100/32") is configured on <paramref name="device"/>.</summary>
    bool HasAddress(string device, string cidr);

    void AddAddress(string device, string cidr);

    void DeleteAddress(string device, string cidr);

    /// <summary>The device of the default route, or null when there is none.</summary>
    string? DefaultRouteDevice(bool ipv6);

    /// <summary>Whether the link is administratively up; null when the device does not exist.</summary>
    bool? IsLinkUp(string device);

    void SetLinkUp(string device, bool up);

    /// <summary>Creates the ipip fallback device tunl0 if the namespace lacks it (LVS-TUN real servers).</summary>
    void EnsureTunnelDevice();
}
