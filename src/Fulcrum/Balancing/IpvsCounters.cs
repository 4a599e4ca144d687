using System.Runtime.InteropServices;

namespace Fulcrum.Balancing;

/// <summary>
/// One worker's counters for a real server or a virtual service. Each worker writes only its own
/// element of a per-worker array; the control plane sums them (like the kernel's per-CPU ip_vs_cpu_stats).
/// 128 bytes per element so two workers never write the same cache line.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 128)]
internal struct IpvsCounters
{
    public long Conns;
    public long InPackets;
    public long InBytes;
    public long OutPackets;
    public long OutBytes;
    public int ActiveConns;
    public int InactiveConns;
    public int PersistentConns;
}

/// <summary>
/// ip_vs_est.c's rate estimator: every period the counter deltas feed an EWMA with weight 1/4, kept
/// scaled (2^10 for connections and packets, 2^5 for bytes) and rounded when read.
/// </summary>
internal struct RateEstimator
{
    private long _lastConns, _lastInPackets, _lastOutPackets, _lastInBytes, _lastOutBytes;
    private long _cps, _inPps, _outPps, _inBps, _outBps;

    /// <summary>One estimation step. The kernel's period is exactly 2 s; other periods are scaled to it.</summary>
    public void Update(in IpvsStats now, long elapsedMs)
    {
        if (elapsedMs <= 0)
            return;
        Step(ref _cps, ref _lastConns, (long)now.Conns, 10, elapsedMs);
        Step(ref _inPps, ref _lastInPackets, (long)now.InPackets, 10, elapsedMs);
        Step(ref _outPps, ref _lastOutPackets, (long)now.OutPackets, 10, elapsedMs);
        Step(ref _inBps, ref _lastInBytes, (long)now.InBytes, 5, elapsedMs);
        Step(ref _outBps, ref _lastOutBytes, (long)now.OutBytes, 5, elapsedMs);
    }

    private static void Step(ref long avg, ref long last, long current, int scaleBits, long elapsedMs)
    {
        long delta = current - last;
        last = current;
        // Per-second rate, scaled by 2^scaleBits: for 2000 ms this is delta << (scaleBits - 1), as the kernel does.
        long rate = (long)((Int128)delta * (1L << scaleBits) * 1000 / elapsedMs);
        avg += (rate - avg) >> 2;
    }

    /// <summary>ip_vs_zero_estimator: restart from the given totals with zero rates.</summary>
    public void Reset(in IpvsStats now)
    {
        _lastConns = (long)now.Conns;
        _lastInPackets = (long)now.InPackets;
        _lastOutPackets = (long)now.OutPackets;
        _lastInBytes = (long)now.InBytes;
        _lastOutBytes = (long)now.OutBytes;
        _cps = _inPps = _outPps = _inBps = _outBps = 0;
    }

    /// <summary>ip_vs_read_estimator's rounding.</summary>
    public readonly IpvsRates Read() => new(
        (ulong)Math.Max(0, (_cps + 0x1FF) >> 10),
        (ulong)Math.Max(0, (_inPps + 0x1FF) >> 10),
        (ulong)Math.Max(0, (_outPps + 0x1FF) >> 10),
        (ulong)Math.Max(0, (_inBps + 0xF) >> 5),
        (ulong)Math.Max(0, (_outBps + 0xF) >> 5));
}

/// <summary>Counters of one object across workers, with ipvsadm -Z's zero point (kstats0) and its estimator.</summary>
internal sealed class CounterSet
{
    private readonly IpvsCounters[] _perWorker;
    private IpvsStats _zero;
    private RateEstimator _estimator;

    public CounterSet(int workerCount) => _perWorker = new IpvsCounters[workerCount];

    /// <summary>The worker's own slot; only that worker writes it.</summary>
    public ref IpvsCounters Slot(int worker) => ref _perWorker[worker];

    public int WorkerCount => _perWorker.Length;

    /// <summary>Totals since creation (reads other workers' slots; 64-bit reads do not tear on 64-bit hosts).</summary>
    public IpvsStats Totals()
    {
        long conns = 0, inPkts = 0, inBytes = 0, outPkts = 0, outBytes = 0;
        for (int i = 0; i < _perWorker.Length; i++)
        {
            ref readonly var c = ref _perWorker[i];
            conns += Volatile.Read(in c.Conns);
            inPkts += Volatile.Read(in c.InPackets);
            inBytes += Volatile.Read(in c.InBytes);
            outPkts += Volatile.Read(in c.OutPackets);
            outBytes += Volatile.Read(in c.OutBytes);
        }
        return new IpvsStats((ulong)conns, (ulong)inPkts, (ulong)outPkts, (ulong)inBytes, (ulong)outBytes);
    }

    public int ActiveConns
    {
        get
        {
            int sum = 0;
            for (int i = 0; i < _perWorker.Length; i++)
                sum += Volatile.Read(in _perWorker[i].ActiveConns);
            return sum;
        }
    }

    public int InactiveConns
    {
        get
        {
            int sum = 0;
            for (int i = 0; i < _perWorker.Length; i++)
                sum += Volatile.Read(in _perWorker[i].InactiveConns);
            return sum;
        }
    }

    public int PersistentConns
    {
        get
        {
            int sum = 0;
            for (int i = 0; i < _perWorker.Length; i++)
                sum += Volatile.Read(in _perWorker[i].PersistentConns);
            return sum;
        }
    }

    /// <summary>What ipvsadm --stats shows: totals minus the zero point (control plane, under the table lock).</summary>
    public IpvsStats Shown()
    {
        var t = Totals();
        return new IpvsStats(t.Conns - _zero.Conns, t.InPackets - _zero.InPackets, t.OutPackets - _zero.OutPackets,
            t.InBytes - _zero.InBytes, t.OutBytes - _zero.OutBytes);
    }

    public IpvsRates Rates => _estimator.Read();

    public void UpdateRates(long elapsedMs)
    {
        var t = Totals();
        _estimator.Update(t, elapsedMs);
    }

    /// <summary>Restarts the estimator from the current totals (a dest coming back from the trash).</summary>
    public void ResetRates() => _estimator.Reset(Totals());

    /// <summary>ip_vs_zero_stats: the current totals become the zero point and rates restart at 0.</summary>
    public void Zero()
    {
        var t = Totals();
        _zero = t;
        _estimator.Reset(t);
    }
}
