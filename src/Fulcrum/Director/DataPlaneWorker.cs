using Fulcrum.Balancing;
using Fulcrum.Linux;
using Fulcrum.Packets;

namespace Fulcrum.Director;

/// <summary>
/// One data-plane worker: its own RX/TX ring (AF_PACKET or AF_XDP), its own <see cref="Balancer"/> (connection table),
/// its own counters. Runs on a dedicated thread; nothing on its path locks or allocates.
/// Per frame: <see cref="ForwardingPath"/> (classify → balance → DR rewrite), then TX.
/// </summary>
internal sealed class DataPlaneWorker : IDisposable
{
    // Expire a bounded slice of the connection table this often, on the worker's own thread
    // (no global lock, as IPVS's per-connection timers avoid one).
    private const long ExpireIntervalMs = 250;
    private const int ExpireBudget = 16384;

    // defense_work's period: drop_entry sweeps once a second.
    private const long DefenseIntervalMs = 1000;

    private readonly IFrameRing _ring;
    private readonly IpvsTable _table;
    private readonly Balancer _balancer;
    private readonly ForwardingPath _path;
    private bool _drained;
    private long _forwarded;
    private long _nowMs;

    public DataPlaneWorker(IFrameRing ring, IpvsTable table, int index, ulong ownMac)
    {
        _ring = ring;
        _table = table;
        _balancer = table.CreateWorker(index);
        // AF_XDP hands over frames without the skb's CHECKSUM_PARTIAL mark (FrameStatus cannot say).
        _path = new ForwardingPath(_balancer, ownMac, repairPartialChecksums: ring is XdpSocket);
    }

    public long Forwarded => Volatile.Read(ref _forwarded);

    /// <summary>This worker's balancer (its connection table), e.g. for the kernel tier to be handed to.</summary>
    public Balancer Balancer => _balancer;

    public long ChecksumsCompleted => _path.ChecksumsCompleted;

    public long Drops(DropReason reason) => _path.Drops(reason);

    public IFrameRing Ring => _ring;

    /// <summary>The worker's index (its slot in every per-worker counter).</summary>
    public int Index => _balancer.Index;

    /// <summary>Connections and templates in this worker's table.</summary>
    public int Connections => _balancer.Count;

    /// <summary>This worker's share of the table's bound.</summary>
    public int Capacity => _balancer.Capacity;

    /// <summary>Entries the drop_entry defense removed from this worker's table.</summary>
    public long DroppedEntries => _balancer.DroppedEntries;

    /// <summary>Connections the kernel tier scheduled into this worker's table, and those it could not take.</summary>
    public long KernelScheduled => _balancer.KernelScheduled;

    /// <inheritdoc cref="Balancing.Balancer.KernelScheduleRefused"/>
    public long KernelScheduleRefused => _balancer.KernelScheduleRefused;

    public void Run(CancellationToken ct)
    {
        var handler = new Handler(this);
        // The table's clock (its TimeProvider), so connection expiry and listings agree.
        long lastExpire = _table.NowMs;
        long lastDefense = lastExpire;
        var defense = _table.Defense;
        while (!ct.IsCancellationRequested)
        {
            _nowMs = _table.NowMs;
            _drained = false;
            _ring.Poll(ref handler, 100);
            _ring.FlushTx();
            long now = _table.NowMs;
            if (!_drained)
                _balancer.DrainKernel(now);
            if (now - lastExpire >= ExpireIntervalMs)
            {
                _balancer.Expire(now, ExpireBudget);
                lastExpire = now;
            }

            if (now - lastDefense >= DefenseIntervalMs)
            {
                // ip_vs_random_dropentry, on the table's own thread: the control plane only sets the flag.
                if (defense.DropEntryActive)
                {
                    _balancer.RandomDropEntry();
                }

                lastDefense = now;
            }
        }
    }

    private void OnFrame(Span<byte> frame, FrameStatus status)
    {
        // Connections the kernel tier handed back before this batch arrived: taken back before any of its frames.
        if (!_drained)
        {
            _balancer.DrainKernel(_nowMs);
            _drained = true;
        }

        if (!_path.Process(frame, status.ChecksumNotReady, _nowMs))
        {
            return;
        }

        if (_ring.TrySend(frame))
        {
            Volatile.Write(ref _forwarded, _forwarded + 1);
        }
        else
        {
            _path.Count(DropReason.TxFull);
        }
    }

    public void Dispose() => _ring.Dispose();

    private readonly struct Handler : IFrameHandler
    {
        private readonly DataPlaneWorker _worker;

        public Handler(DataPlaneWorker worker) => _worker = worker;

        public void OnFrame(Span<byte> frame, FrameStatus status) => _worker.OnFrame(frame, status);
    }
}
