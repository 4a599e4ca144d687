using Fulcrum.Balancing;
using Fulcrum.Linux;
using Fulcrum.Packets;

namespace Fulcrum.Director;

/// <summary>
/// One data-plane worker: its own RX/TX ring, its own <see cref="Balancer"/> (connection table),
/// its own counters. Runs on a dedicated thread; nothing on its path locks or allocates.
/// Per frame: classify → balance (connection hit, or schedule) → DR rewrite → TX.
/// </summary>
internal sealed class DataPlaneWorker : IDisposable
{
    // Expire a bounded slice of the connection table this often, on the worker's own thread
    // (no global lock, as IPVS's per-connection timers avoid one).
    private const long ExpireIntervalMs = 250;
    private const int ExpireBudget = 16384;

    private readonly PacketRing _ring;
    private readonly IpvsTable _table;
    private readonly Balancer _balancer;
    private readonly ulong _ownMac;
    private readonly long[] _drops = new long[(int)DropReason.Count];
    private long _forwarded;
    private long _checksumsCompleted;
    private long _nowMs;

    public DataPlaneWorker(PacketRing ring, IpvsTable table, int index, ulong ownMac)
    {
        _ring = ring;
        _table = table;
        _balancer = table.CreateWorker(index);
        _ownMac = ownMac;
    }

    public long Forwarded => Volatile.Read(ref _forwarded);

    public long ChecksumsCompleted => Volatile.Read(ref _checksumsCompleted);

    public long Drops(DropReason reason) => Volatile.Read(ref _drops[(int)reason]);

    public PacketRing Ring => _ring;

    public void Run(CancellationToken ct)
    {
        var handler = new Handler(this);
        // The table's clock (its TimeProvider), so connection expiry and listings agree.
        long lastExpire = _table.NowMs;
        while (!ct.IsCancellationRequested)
        {
            _nowMs = _table.NowMs;
            _ring.Poll(ref handler, 100);
            _ring.FlushTx();
            long now = _table.NowMs;
            if (now - lastExpire >= ExpireIntervalMs)
            {
                _balancer.Expire(now, ExpireBudget);
                lastExpire = now;
            }
        }
    }

    private void OnFrame(Span<byte> frame, FrameStatus status)
    {
        var kind = FrameClassifier.Classify(frame, out var packet, out var reason);
        if (kind == FrameKind.Other)
        {
            return;
        }

        if (kind == FrameKind.Malformed)
        {
            Count(reason);
            return;
        }

        var verdict = _balancer.Process(ref packet, _nowMs, out var dest, out reason);
        if (verdict == BalanceVerdict.NotService)
        {
            return;
        }

        if (verdict == BalanceVerdict.Drop)
        {
            Count(reason);
            return;
        }

        // Never guess a MAC: a frame to a wrong or broadcast MAC would reach the wrong host.
        // The neighbour service resolves it; until then the client's retransmit will get through.
        ulong mac = dest!.Mac;
        if (mac == 0)
        {
            Count(DropReason.NoNeighbour);
            return;
        }

        if (status.ChecksumNotReady)
        {
            // CHECKSUM_PARTIAL from a local veth sender: the L4 field holds only the pseudo-header
            // sum; a real server would drop the segment, so finish the job the NIC would have done.
            Checksum.CompleteTransportChecksum(frame, packet);
            _checksumsCompleted++;
        }

        // Direct routing (LVS-DR): only the Ethernet addresses change; IP header and ports stay.
        EthernetFrame.WriteMac(frame, mac);
        EthernetFrame.WriteMac(frame[6..], _ownMac);
        if (_ring.TrySend(frame))
        {
            Volatile.Write(ref _forwarded, _forwarded + 1);
        }
        else
        {
            Count(DropReason.TxFull);
        }
    }

    private void Count(DropReason reason) => Volatile.Write(ref _drops[(int)reason], _drops[(int)reason] + 1);

    public void Dispose() => _ring.Dispose();

    private readonly struct Handler : IFrameHandler
    {
        private readonly DataPlaneWorker _worker;

        public Handler(DataPlaneWorker worker) => _worker = worker;

        public void OnFrame(Span<byte> frame, FrameStatus status) => _worker.OnFrame(frame, status);
    }
}
