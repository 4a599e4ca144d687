using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Fulcrum.RealServerSetup;

/// <summary>
/// Prepares a host as an LVS-DR (or LVS-TUN) real server, as the LVS HOWTO and keepalived's docs do by
/// hand: the VIP on lo (tunl0 for TUN) so the host accepts packets for it, and
/// arp_ignore=1 / arp_announce=2 so it never answers or advertises the VIP on the wire (only the
/// director may, else clients' ARP would bypass it). The kernel applies max(all, interface) for both
/// ARP sysctls (devinet.c IN_DEV_ARP_IGNORE / IN_DEV_ARP_ANNOUNCE), hence both are set.
/// IPv6 VIPs need no sysctl: ndisc answers a neighbour solicitation only for addresses on the receiving
/// interface, so a VIP on lo stays silent.
/// </summary>
/// <remarks>
/// Every change is recorded in a state file first, and <see cref="Down"/> undoes exactly those changes:
/// an address that was already there stays, a sysctl is restored to its prior value only when the last
/// VIP goes and only if nobody changed it since.
/// </remarks>
public sealed class RealServerConfigurator
{
    /// <summary>Where state files go by default: tmpfs, so a reboot (which resets everything) clears them.</summary>
    public const string DefaultStateDirectory = "/run/fulcrum-realserver";

    private readonly IRealServerHost _host;
    private readonly string? _statePath;

    /// <param name="host">The namespace to configure.</param>
    /// <param name="statePath">The state file; default <see cref="DefaultStateDirectory"/>/&lt;namespace key&gt;.json.</param>
    public RealServerConfigurator(IRealServerHost host, string? statePath = null)
    {
        _host = host;
        _statePath = statePath;
    }

    /// <summary>The current network namespace, state under <see cref="DefaultStateDirectory"/>.</summary>
    public static RealServerConfigurator ForCurrentNamespace() => new(SystemRealServerHost.Current);

    public string StatePath => _statePath ?? Path.Combine(DefaultStateDirectory, _host.NamespaceKey + ".json");

    /// <summary>
    /// Makes this host a real server for <paramref name="vip"/>. Idempotent.
    /// </summary>
    /// <param name="vip">The virtual IP (IPv4 or IPv6).</param>
    /// <param name="device">
    /// The interface facing the director, whose ARP behaviour is set; default: the device of the default
    /// route (the one clients' traffic arrives on in DR, since replies leave by it too).
    /// </param>
    /// <param name="tun">LVS-TUN: the VIP goes on tunl0 (ipip decapsulated packets arrive there), which
    /// is set up with rp_filter=0, because the inner source is not routed via tunl0.</param>
    public void Up(IPAddress vip, string? device = null, bool tun = false)
    {
        bool v6 = vip.AddressFamily == AddressFamily.InterNetworkV6;
        string dev = device ?? _host.DefaultRouteDevice(v6)
            ?? throw new InvalidOperationException("no default route to pick the real server's interface from; give the device explicitly");
        string vipDevice = tun ? "tunl0" : "lo";
        string cidr = vip.ToString() + (v6 ? "/128" : "/32");
        string address = vip.ToString();

        var state = RealServerState.Load(StatePath) ?? new RealServerState();
        try
        {
            var wanted = new List<KeyValuePair<string, string>>();
            if (!v6)
            {
                wanted.Add(new("net/ipv4/conf/all/arp_ignore", "1"));
                wanted.Add(new("net/ipv4/conf/all/arp_announce", "2"));
                wanted.Add(new($"net/ipv4/conf/{dev}/arp_ignore", "1"));
                wanted.Add(new($"net/ipv4/conf/{dev}/arp_announce", "2"));
            }

            if (tun)
            {
                _host.EnsureTunnelDevice();
                wanted.Add(new("net/ipv4/conf/all/rp_filter", "0"));
                wanted.Add(new("net/ipv4/conf/tunl0/rp_filter", "0"));
            }

            ApplySysctls(state, wanted);

            if (tun && _host.IsLinkUp("tunl0") == false)
            {
                state.LinksSetUp.Add("tunl0");
                state.Save(StatePath);
                _host.SetLinkUp("tunl0", true);
            }

            var entry = state.Vips.Find(v => v.Address == address);
            if (entry is null)
            {
                entry = new VipEntry { Address = address, Device = vipDevice, Cidr = cidr, Interface = dev };
                state.Vips.Add(entry);
            }

            if (!_host.HasAddress(vipDevice, cidr))
            {
                entry.Added = true;
                state.Save(StatePath);
                _host.AddAddress(vipDevice, cidr);
            }
        }
        finally
        {
            state.Save(StatePath);
        }
    }

    /// <summary>
    /// Undoes what <see cref="Up"/> did for <paramref name="vip"/>; returns false when there was nothing
    /// recorded for it (never up, or already down).
    /// </summary>
    public bool Down(IPAddress vip)
    {
        var state = RealServerState.Load(StatePath);
        string address = vip.ToString();
        var entry = state?.Vips.Find(v => v.Address == address);
        if (state is null || entry is null)
        {
            return false;
        }

        if (entry.Added && _host.HasAddress(entry.Device, entry.Cidr))
        {
            _host.DeleteAddress(entry.Device, entry.Cidr);
        }

        state.Vips.Remove(entry);
        if (state.Vips.Count > 0)
        {
            state.Save(StatePath);
            return true;
        }

        RestoreSysctls(state);
        foreach (var link in state.LinksSetUp)
        {
            if (_host.IsLinkUp(link) == true)
            {
                _host.SetLinkUp(link, false);
            }
        }

        File.Delete(StatePath);
        return true;
    }

    /// <summary>The VIPs currently recorded as up in this namespace.</summary>
    public IReadOnlyList<IPAddress> Vips()
    {
        var state = RealServerState.Load(StatePath);
        if (state is null)
        {
            return [];
        }

        var list = new List<IPAddress>(state.Vips.Count);
        foreach (var v in state.Vips)
        {
            list.Add(IPAddress.Parse(v.Address));
        }

        return list;
    }

    private void ApplySysctls(RealServerState state, List<KeyValuePair<string, string>> wanted)
    {
        if (wanted.Count == 0)
        {
            return;
        }

        var keys = new List<string>(wanted.Count);
        foreach (var w in wanted)
        {
            keys.Add(w.Key);
        }

        var current = _host.ReadSysctls(keys);
        var writes = new List<KeyValuePair<string, string>>();
        for (int i = 0; i < wanted.Count; i++)
        {
            var (key, value) = wanted[i];
            if (current[i] is null)
            {
                throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "sysctl {0} does not exist (no such interface?)", key.Replace('/', '.')));
            }

            if (current[i] == value)
            {
                continue;
            }

            var rec = state.Sysctls.Find(s => s.Key == key);
            if (rec is null)
            {
                state.Sysctls.Add(new SysctlEntry { Key = key, Prior = current[i]!, Set = value });
            }
            else
            {
                rec.Set = value;
            }

            writes.Add(new(key, value));
        }

        if (writes.Count > 0)
        {
            // Recorded before written: a crash in between still leaves Down able to restore.
            state.Save(StatePath);
            _host.WriteSysctls(writes);
        }
    }

    private void RestoreSysctls(RealServerState state)
    {
        if (state.Sysctls.Count == 0)
        {
            return;
        }

        var keys = new List<string>(state.Sysctls.Count);
        foreach (var s in state.Sysctls)
        {
            keys.Add(s.Key);
        }

        var current = _host.ReadSysctls(keys);
        var writes = new List<KeyValuePair<string, string>>();
        for (int i = 0; i < keys.Count; i++)
        {
            var rec = state.Sysctls[i];

            // Someone else changed it since Up (or the interface is gone): theirs now, leave it.
            if (current[i] == rec.Set)
            {
                writes.Add(new(rec.Key, rec.Prior));
            }
        }

        _host.WriteSysctls(writes);
    }
}
