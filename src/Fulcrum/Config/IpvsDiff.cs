using Fulcrum.Balancing;

namespace Fulcrum.Config;

/// <summary>
/// The IPVS operations that turn one service table into another, for a reload (SIGHUP) that must
/// not drop established connections: services and real servers that stay are edited in place,
/// never deleted and re-added. Apply in this order: <see cref="AddedServices"/>,
/// <see cref="ChangedServices"/>, <see cref="AddedDests"/>, <see cref="ChangedDests"/>,
/// <see cref="RemovedDests"/>, <see cref="RemovedServices"/> (a removed service takes its real
/// servers with it, so they are not listed again).
/// </summary>
public sealed record IpvsDiff(
    IReadOnlyList<ServiceSpec> AddedServices,
    IReadOnlyList<ServiceSpec> ChangedServices,
    IReadOnlyList<ServiceKey> RemovedServices,
    IReadOnlyList<(ServiceKey Service, DestSpec Dest)> AddedDests,
    IReadOnlyList<(ServiceKey Service, DestSpec Dest)> ChangedDests,
    IReadOnlyList<(ServiceKey Service, DestSpec Dest)> RemovedDests)
{
    public bool IsEmpty =>
        AddedServices.Count == 0 && ChangedServices.Count == 0 && RemovedServices.Count == 0 &&
        AddedDests.Count == 0 && ChangedDests.Count == 0 && RemovedDests.Count == 0;

    /// <summary>
    /// Compares by identity as the kernel does: a service by its <see cref="ServiceKey"/>, a real
    /// server by (address, port) within its service. Anything else that differs is an edit.
    /// </summary>
    public static IpvsDiff Compute(
        IReadOnlyList<(ServiceSpec Service, IReadOnlyList<DestSpec> Dests)> current,
        IReadOnlyList<(ServiceSpec Service, IReadOnlyList<DestSpec> Dests)> desired)
    {
        var now = new Dictionary<ServiceKey, (ServiceSpec Service, IReadOnlyList<DestSpec> Dests)>();
        foreach (var entry in current)
            now[entry.Service.Key] = entry;
        var wanted = new HashSet<ServiceKey>();

        var added = new List<ServiceSpec>();
        var changed = new List<ServiceSpec>();
        var removed = new List<ServiceKey>();
        var addedDests = new List<(ServiceKey, DestSpec)>();
        var changedDests = new List<(ServiceKey, DestSpec)>();
        var removedDests = new List<(ServiceKey, DestSpec)>();

        foreach (var (service, dests) in desired)
        {
            var key = service.Key;
            if (!wanted.Add(key))
                continue;
            if (!now.TryGetValue(key, out var old))
            {
                added.Add(service);
                foreach (var d in dests)
                    addedDests.Add((key, d));
                continue;
            }
            if (old.Service != service)
                changed.Add(service);

            var oldDests = new Dictionary<(System.Net.IPAddress, ushort), DestSpec>();
            foreach (var d in old.Dests)
                oldDests[(d.Address, d.Port)] = d;
            var keep = new HashSet<(System.Net.IPAddress, ushort)>();
            foreach (var d in dests)
            {
                var id = (d.Address, d.Port);
                if (!keep.Add(id))
                    continue;
                if (!oldDests.TryGetValue(id, out var was))
                    addedDests.Add((key, d));
                else if (was != d)
                    changedDests.Add((key, d));
            }
            foreach (var d in old.Dests)
            {
                if (!keep.Contains((d.Address, d.Port)))
                    removedDests.Add((key, d));
            }
        }

        foreach (var entry in current)
        {
            if (!wanted.Contains(entry.Service.Key))
                removed.Add(entry.Service.Key);
        }

        return new IpvsDiff(added, changed, removed, addedDests, changedDests, removedDests);
    }
}
