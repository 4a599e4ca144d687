using System.Net;
using System.Net.Sockets;
using Fulcrum.Balancing;

namespace Fulcrum.Config;

/// <summary>
/// Maps keepalived virtual_server / real_server blocks onto the IPVS model
/// (<see cref="ServiceSpec"/>, <see cref="DestSpec"/>) the way keepalived's ipvswrapper.c programs
/// the kernel: lb_kind NAT/DR/TUN → Masquerade/DirectRoute/Tunnel, `virtual_server group` expanded
/// into one service per address (range) and fwmark entry, `fwmark N` as a fwmark service.
/// </summary>
public static class KeepalivedIpvs
{
    /// <summary>Every configured service with all its real servers (the "all healthy" view).</summary>
    public static IReadOnlyList<(ServiceSpec Service, IReadOnlyList<DestSpec> Dests)> ToIpvs(KeepalivedConfiguration config) =>
        ToIpvs(config, null);

    /// <summary>
    /// As <see cref="ToIpvs(KeepalivedConfiguration)"/>, with real servers' health: a real server
    /// that is down is left out, or kept with weight 0 when inhibit_on_failure is set; when no
    /// real server is up, the sorry_server takes their place (check_ipvs.c semantics).
    /// </summary>
    public static IReadOnlyList<(ServiceSpec Service, IReadOnlyList<DestSpec> Dests)> ToIpvs(
        KeepalivedConfiguration config, Func<VirtualServer, RealServer, bool>? isUp)
    {
        var groups = new Dictionary<string, VirtualServerGroup>(StringComparer.Ordinal);
        foreach (var g in config.VirtualServerGroups)
            groups[g.Name] = g;

        var result = new List<(ServiceSpec, IReadOnlyList<DestSpec>)>();
        foreach (var vs in config.VirtualServers)
        {
            foreach (var key in ServiceKeys(vs, groups))
            {
                var spec = new ServiceSpec(
                    key,
                    vs.Scheduler,
                    vs.SchedulerFlags,
                    vs.PersistenceTimeout,
                    vs.PersistenceGranularity ?? (IsV6(key) ? 128 : 32),
                    vs.OnePacket,
                    vs.PersistenceEngine);
                result.Add((spec, Dests(vs, key, isUp)));
            }
        }
        return result;
    }

    // Fwmark keys carry their family in the placeholder address (FwMarkKey).
    private static bool IsV6(ServiceKey key) => key.Address.AddressFamily == AddressFamily.InterNetworkV6;

    private static List<ServiceKey> ServiceKeys(VirtualServer vs, Dictionary<string, VirtualServerGroup> groups)
    {
        var keys = new List<ServiceKey>();
        switch (vs.Id.Kind)
        {
            case VirtualServerKind.Address:
                keys.Add(new ServiceKey(vs.Protocol, vs.Id.Address!, vs.Id.Port));
                break;
            case VirtualServerKind.FwMark:
                keys.Add(FwMarkKey(vs.Id.FwMark, FamilyFromRealServers(vs)));
                break;
            case VirtualServerKind.Group:
                if (!groups.TryGetValue(vs.Id.Group!, out var group))
                    break;
                foreach (var e in group.Entries)
                {
                    if (e.IsFwMark)
                    {
                        keys.Add(FwMarkKey(e.FwMark, e.FwMarkFamily ?? FamilyFromRealServers(vs)));
                        continue;
                    }
                    var first = KeepalivedBinder.ToBig(e.First!);
                    var last = KeepalivedBinder.ToBig(e.Last!);
                    for (var a = first; a <= last; a++)
                        keys.Add(new ServiceKey(vs.Protocol, KeepalivedBinder.FromBig(a, e.First!.AddressFamily), e.Port));
                }
                break;
        }
        return keys;
    }

    // ipvsadm's placeholders for a fwmark service: protocol TCP, address 0.0.0.0 or ::, port 0.
    private static ServiceKey FwMarkKey(uint mark, AddressFamily family) =>
        new(IpProtocol.Tcp, family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0, mark);

    private static AddressFamily FamilyFromRealServers(VirtualServer vs)
    {
        foreach (var rs in vs.RealServers)
        {
            if (rs.Method != ForwardingMethod.Tunnel)
                return rs.Address.AddressFamily;
        }
        return vs.RealServers.Count > 0 ? vs.RealServers[0].Address.AddressFamily : AddressFamily.InterNetwork;
    }

    private static List<DestSpec> Dests(VirtualServer vs, ServiceKey key, Func<VirtualServer, RealServer, bool>? isUp)
    {
        var dests = new List<DestSpec>();
        bool anyUp = false;
        foreach (var rs in vs.RealServers)
        {
            bool up = isUp is null || isUp(vs, rs);
            anyUp |= up;
            if (!up && !rs.InhibitOnFailure)
                continue;
            dests.Add(new DestSpec(rs.Address, DestPort(rs.Method, rs.Port, key), rs.Method, up ? rs.Weight : 0, rs.UpperThreshold, rs.LowerThreshold));
        }
        if (!anyUp && vs.SorryServer is { } sorry)
        {
            // check_ipvs.c: the sorry server joins while no real server is alive; inhibited real
            // servers stay at weight 0, so it takes all new connections.
            dests.Add(new DestSpec(sorry.Address, DestPort(sorry.Method, sorry.Port, key), sorry.Method, 1));
        }
        return dests;
    }

    /// <summary>
    /// DR and TUN cannot change the port, so the destination carries the service's port (as ipvsadm
    /// does); NAT uses the real server's port, or the service's when none was given.
    /// </summary>
    private static ushort DestPort(ForwardingMethod method, ushort port, ServiceKey key)
    {
        if (key.IsFwMark)
            return port;
        if (method is ForwardingMethod.DirectRoute or ForwardingMethod.Tunnel)
            return key.Port;
        return port != 0 ? port : key.Port;
    }
}
