using Fulcrum.Config;

namespace Fulcrum.Vrrp;

/// <summary>
/// vrrp_sync_group: members change state together (keepalived's rule). One member becoming MASTER takes the
/// others to MASTER; one leaving MASTER for BACKUP or FAULT takes the others to BACKUP. Transitions are
/// recorded as the instances report them and applied once per round by the thread that drives them.
/// </summary>
internal sealed class VrrpSyncGroups
{
    private readonly List<List<VrrpInstance>> _groups = [];
    private readonly List<(VrrpInstance Instance, VrrpInstanceState Previous)> _transitions = [];

    public void Configure(IReadOnlyList<VrrpSyncGroup> groups, IReadOnlyList<VrrpInstance> instances)
    {
        _groups.Clear();
        foreach (var group in groups)
        {
            var members = new List<VrrpInstance>();
            foreach (var instance in instances)
            {
                if (group.Instances.Contains(instance.Name))
                    members.Add(instance);
            }

            if (members.Count > 1)
                _groups.Add(members);
        }
    }

    /// <summary>Called from <see cref="IVrrpInstanceIo.StateChanged"/>.</summary>
    public void Record(VrrpInstance instance, VrrpInstanceState previous) => _transitions.Add((instance, previous));

    /// <summary>Applies the recorded transitions to the other members; true when any state changed this round.</summary>
    public bool Apply()
    {
        if (_transitions.Count == 0)
            return false;

        // Forcing a member records its own transition; the loop visits it too, and it settles at once
        // because every member is by then in the target state.
        for (int i = 0; i < _transitions.Count; i++)
        {
            var (instance, previous) = _transitions[i];
            foreach (var members in _groups)
            {
                if (!members.Contains(instance))
                    continue;
                foreach (var other in members)
                {
                    if (other == instance)
                        continue;
                    if (instance.State == VrrpInstanceState.Master)
                        other.ForceMaster();
                    else if (previous == VrrpInstanceState.Master && instance.State is VrrpInstanceState.Backup or VrrpInstanceState.Fault)
                        other.ForceBackup();
                }
            }
        }

        _transitions.Clear();
        return true;
    }
}
