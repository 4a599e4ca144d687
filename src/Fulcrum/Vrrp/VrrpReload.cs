using Fulcrum.Config;
using ConfigInstance = Fulcrum.Config.VrrpInstance;

namespace Fulcrum.Vrrp;

/// <summary>What a reload does to one running instance.</summary>
public enum VrrpReloadAction
{
    /// <summary>Nothing the instance uses changed (declaration lines may have moved).</summary>
    Keep,

    /// <summary>Settings changed; the instance is updated in place and keeps its state and addresses.</summary>
    Update,

    /// <summary>A different virtual router (interface, VRID, version or family): stopped and started afresh.</summary>
    Replace,
}

/// <summary>
/// The difference between a running vrrp_instance and its new declaration on SIGHUP. Instances are paired by
/// name, then by virtual router (interface, VRID, family: keepalived's vrrp_exist), so renaming an instance
/// does not move its VIPs. Everything compares by value and ignores where an item was declared.
/// </summary>
public static class VrrpReload
{
    /// <summary>
    /// For each of <paramref name="next"/>, the index of the running instance it continues, or -1 for a new
    /// one. Running instances no index points at are removed.
    /// </summary>
    public static int[] Pair(IReadOnlyList<ConfigInstance> running, IReadOnlyList<ConfigInstance> next)
    {
        ArgumentNullException.ThrowIfNull(running);
        ArgumentNullException.ThrowIfNull(next);
        var pairs = new int[next.Count];
        var taken = new bool[running.Count];
        for (int i = 0; i < next.Count; i++)
        {
            pairs[i] = -1;
            for (int j = 0; j < running.Count; j++)
            {
                if (!taken[j] && running[j].Name == next[i].Name)
                {
                    pairs[i] = j;
                    taken[j] = true;
                    break;
                }
            }
        }

        for (int i = 0; i < next.Count; i++)
        {
            if (pairs[i] >= 0)
                continue;
            for (int j = 0; j < running.Count; j++)
            {
                if (!taken[j] && SameVirtualRouter(running[j], next[i]))
                {
                    pairs[i] = j;
                    taken[j] = true;
                    break;
                }
            }
        }

        return pairs;
    }

    /// <summary>Same interface, VRID, version and address family (and vmac): the same virtual router on the wire.</summary>
    public static bool SameVirtualRouter(ConfigInstance a, ConfigInstance b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return a.Interface == b.Interface
            && a.VirtualRouterId == b.VirtualRouterId
            && a.Version == b.Version
            && a.IsIpv6 == b.IsIpv6
            && a.UseVmac == b.UseVmac
            && a.VmacInterface == b.VmacInterface;
    }

    /// <summary>The settings that differ, by keepalived keyword (empty: none).</summary>
    public static IReadOnlyList<string> Differences(ConfigInstance a, ConfigInstance b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var d = new List<string>();
        if (a.Name != b.Name)
            d.Add("name");
        if (a.Priority != b.Priority)
            d.Add("priority");
        if (a.AdvertInterval != b.AdvertInterval)
            d.Add("advert_int");
        if (a.Authentication != b.Authentication)
            d.Add("authentication");
        if (!SameList(a.VirtualIpAddresses, b.VirtualIpAddresses, SameAddress))
            d.Add("virtual_ipaddress");
        if (!SameList(a.VirtualIpAddressesExcluded, b.VirtualIpAddressesExcluded, SameAddress))
            d.Add("virtual_ipaddress_excluded");
        if (a.NoPreempt != b.NoPreempt || a.PreemptDelay != b.PreemptDelay)
            d.Add("preempt");
        if (!SameList(a.TrackScripts, b.TrackScripts, static (x, y) => x with { Location = y.Location } == y))
            d.Add("track_script");
        if (!SameList(a.TrackInterfaces, b.TrackInterfaces, static (x, y) => x with { Location = y.Location } == y))
            d.Add("track_interface");
        if (a.Notify != b.Notify)
            d.Add("notify");
        if (!Equals(a.McastSourceIp, b.McastSourceIp) || !Equals(a.UnicastSourceIp, b.UnicastSourceIp))
            d.Add("source");
        if (!SameList(a.UnicastPeers, b.UnicastPeers, static (x, y) => x with { Location = y.Location } == y))
            d.Add("unicast_peer");
        if (a.GarpMasterDelay != b.GarpMasterDelay || a.GarpMasterRepeat != b.GarpMasterRepeat
            || a.GarpMasterRefresh != b.GarpMasterRefresh || a.GarpMasterRefreshRepeat != b.GarpMasterRefreshRepeat)
            d.Add("garp");
        if (a.State != b.State)
            d.Add("state");
        return d;
    }

    /// <summary>What the reload does with a running instance and its new declaration.</summary>
    public static VrrpReloadAction ActionFor(ConfigInstance running, ConfigInstance next) =>
        !SameVirtualRouter(running, next) ? VrrpReloadAction.Replace
        : Differences(running, next).Count == 0 ? VrrpReloadAction.Keep
        : VrrpReloadAction.Update;

    /// <summary>The same address as `ip addr` would add it (device, prefix, brd, scope, label, flags).</summary>
    public static bool SameAddress(VirtualIpAddress a, VirtualIpAddress b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return a with { Location = b.Location } == b;
    }

    /// <summary>Addresses of <paramref name="from"/> that <paramref name="other"/> does not have (by <see cref="SameAddress"/>).</summary>
    public static List<VirtualIpAddress> Except(IReadOnlyList<VirtualIpAddress> from, IReadOnlyList<VirtualIpAddress> other)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(other);
        var result = new List<VirtualIpAddress>();
        foreach (var a in from)
        {
            bool found = false;
            foreach (var b in other)
                found |= SameAddress(a, b);
            if (!found)
                result.Add(a);
        }

        return result;
    }

    private static bool SameList<T>(IReadOnlyList<T> a, IReadOnlyList<T> b, Func<T, T, bool> same)
    {
        if (a.Count != b.Count)
            return false;
        for (int i = 0; i < a.Count; i++)
        {
            if (!same(a[i], b[i]))
                return false;
        }

        return true;
    }
}
