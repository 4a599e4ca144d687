using System.Net;

namespace Fulcrum.Linux;

/// <summary>NUD_* states of a kernel neighbour entry (include/uapi/linux/neighbour.h).</summary>
[Flags]
public enum NeighbourState : ushort
{
    None = 0x00,
    Incomplete = 0x01,
    Reachable = 0x02,
    Stale = 0x04,
    Delay = 0x08,
    Probe = 0x10,
    Failed = 0x20,
    NoArp = 0x40,
    Permanent = 0x80,
}

/// <summary>
/// One entry of the kernel's neighbour (ARP/NDP) table. <see cref="Mac"/> is the 48-bit link-layer address,
/// first octet most significant (as <see cref="NetInterface.GetMac"/>), 0 when the entry has none.
/// </summary>
public readonly record struct NeighbourEntry(int IfIndex, IPAddress Address, ulong Mac, NeighbourState State)
{
    /// <summary>
    /// The states whose MAC may be used to forward. STALE is included: it only means the kernel has not
    /// confirmed the address lately; the kernel itself keeps sending to it (and re-probes via DELAY/PROBE),
    /// and the MAC is replaced by an update, not removed. INCOMPLETE, FAILED and NONE have no usable MAC.
    /// </summary>
    public const NeighbourState UsableStates =
        NeighbourState.Reachable | NeighbourState.Stale | NeighbourState.Delay | NeighbourState.Probe | NeighbourState.Permanent;

    /// <summary>True when the entry carries a MAC in a state the kernel itself would transmit to.</summary>
    public bool HasUsableMac => Mac != 0 && (State & UsableStates) != 0;
}
