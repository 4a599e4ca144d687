using Fulcrum.Balancing;
using Fulcrum.Packets;

namespace Fulcrum.Director;

/// <summary>
/// The per-frame work of a worker, apart from the rings: classify → balance (connection hit, or
/// schedule) → DR rewrite in place. Single-threaded (one per worker); allocates nothing.
/// Split from <see cref="DataPlaneWorker"/> so benchmarks measure exactly the production path.
/// </summary>
internal sealed class ForwardingPath
{
    private readonly Balancer _balancer;
    private readonly ulong _ownMac;
    private readonly bool _repairPartialChecksums;
    private readonly long[] _drops = new long[(int)DropReason.Count];
    private long _checksumsCompleted;

    /// <param name="balancer">The worker's balancer.</param>
    /// <param name="ownMac">The director interface's MAC.</param>
    /// <param name="repairPartialChecksums">
    /// For drivers that cannot report CHECKSUM_PARTIAL (AF_XDP loses the skb's mark): check every forwarded
    /// frame for a pseudo-header-only L4 sum and complete it (Checksum.RepairPartialTransportChecksum).
    /// </param>
    public ForwardingPath(Balancer balancer, ulong ownMac, bool repairPartialChecksums = false)
    {
        _balancer = balancer;
        _ownMac = ownMac;
        _repairPartialChecksums = repairPartialChecksums;
    }

    public long ChecksumsCompleted => Volatile.Read(ref _checksumsCompleted);

    public long Drops(DropReason reason) => Volatile.Read(ref _drops[(int)reason]);

    /// <summary>
    /// Returns true when <paramref name="frame"/> was rewritten for a real server and must be sent;
    /// false when it is not ours (the kernel keeps it) or was dropped (counted by reason).
    /// </summary>
    public bool Process(Span<byte> frame, bool checksumNotReady, long nowMs)
    {
        // Only frames sent to this director are ours. A switch floods frames for a MAC it has not
        // learned (a failed peer's, say) to every port, and a BACKUP director that forwarded them
        // would duplicate the MASTER's traffic (AF_PACKET also sees PACKET_OTHERHOST frames).
        if (frame.Length < EthernetFrame.HeaderLength || EthernetFrame.ReadMac(frame) != _ownMac)
        {
            return false;
        }

        var kind = FrameClassifier.Classify(frame, out var packet, out var reason);
        if (kind != FrameKind.Transport)
        {
            if (kind == FrameKind.Malformed)
            {
                Count(reason);
            }

            return false;
        }

        var verdict = _balancer.Process(ref packet, nowMs, out var dest, out reason);
        if (verdict != BalanceVerdict.Forward)
        {
            if (verdict == BalanceVerdict.Drop)
            {
                Count(reason);
            }

            return false;
        }

        // Never guess a MAC: a frame to a wrong or broadcast MAC would reach the wrong host.
        // The neighbour service resolves it; until then the client's retransmit will get through.
        ulong mac = dest!.Mac;
        if (mac == 0)
        {
            Count(DropReason.NoNeighbour);
            return false;
        }

        if (checksumNotReady)
        {
            // CHECKSUM_PARTIAL from a local veth sender: the L4 field holds only the pseudo-header
            // sum; a real server would drop the segment, so finish the job the NIC would have done.
            Checksum.CompleteTransportChecksum(frame, packet);
            Volatile.Write(ref _checksumsCompleted, _checksumsCompleted + 1);
        }
        else if (_repairPartialChecksums && Checksum.RepairPartialTransportChecksum(frame, packet))
        {
            Volatile.Write(ref _checksumsCompleted, _checksumsCompleted + 1);
        }

        // Direct routing (LVS-DR): only the Ethernet addresses change; IP header and ports stay.
        EthernetFrame.WriteMac(frame, mac);
        EthernetFrame.WriteMac(frame[6..], _ownMac);
        return true;
    }

    /// <summary>Counts a drop decided outside the path (e.g. a full TX ring).</summary>
    public void Count(DropReason reason) => Volatile.Write(ref _drops[(int)reason], _drops[(int)reason] + 1);
}
