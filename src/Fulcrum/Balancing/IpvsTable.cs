using System.Net;
using System.Net.Sockets;
using Fulcrum.Balancing.Schedulers;

namespace Fulcrum.Balancing;

/// <summary>
/// The IPVS control plane (ip_vs_ctl.c) in user space: virtual services, their real servers and the
/// timeouts, with the kernel's errnos. Control calls serialize on one lock (the control socket may serve
/// several clients at once); workers never take it: after each change a new immutable
/// <see cref="ServiceSnapshot"/> is published for them with Volatile.Write.
/// </summary>
public sealed class IpvsTable : IIpvsControl
{
    /// <summary>What ipvsadm's header shows as size=N: the kernel's default conn_tab_bits (12).</summary>
    public const int KernelConnectionTableSize = 4096;

    /// <summary>The kernel's estimation period (ip_vs_est.c): <see cref="UpdateRates"/> is meant to run this often.</summary>
    public static readonly TimeSpan RatePeriod = TimeSpan.FromSeconds(2);

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly List<VirtualService> _services = [];
    private readonly Dictionary<ServiceKey, VirtualService> _byKey = [];
    // Deleted dests that connections still use: the kernel's dest trash. A re-add gets the same object back.
    private readonly List<RealServer> _trash = [];
    private readonly Balancer?[] _workers;
    private readonly int _maxConnectionsPerWorker;
    private long[] _tcpTimeoutsMs = ServiceSnapshot.DefaultTcpTimeouts();
    private long _udpTimeoutMs = TcpStateMachine.DefaultUdpTimeoutSeconds * 1000L;
    private ServiceSnapshot _snapshot = ServiceSnapshot.Empty;
    private long _generation;
    private long _lastRateTimestamp;
    private bool _expireQuiescentTemplate;
    private bool _sloppyTcp;
    private IReadOnlyList<FwMarkRule> _markRules = [];

    public IpvsTable(TimeProvider time, int workerCount = 1, int maxConnectionsPerWorker = 1 << 20, DefenseSettings? defense = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(workerCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnectionsPerWorker, 1);
        _time = time;
        _workers = new Balancer?[workerCount];
        _maxConnectionsPerWorker = maxConnectionsPerWorker;
        _lastRateTimestamp = time.GetTimestamp();
        Defense = new IpvsDefense(defense ?? new DefenseSettings(), (long)workerCount * maxConnectionsPerWorker);
    }

    /// <summary>The SYN-flood defense (drop_entry, drop_packet, secure_tcp) the workers follow.</summary>
    public IpvsDefense Defense { get; }

    /// <summary>Connections (and templates) in every worker's table now (a racy sum, as the control plane reads it).</summary>
    public long ConnectionCount
    {
        get
        {
            long sum = 0;
            foreach (var w in _workers)
                sum += w?.Count ?? 0;
            return sum;
        }
    }

    /// <summary>
    /// defense_work's update_defense_level, with the free entries of the whole table (every worker's bound
    /// minus its count) in place of free memory. The director calls it once a second.
    /// </summary>
    public void UpdateDefense() =>
        Defense.Update((long)_workers.Length * _maxConnectionsPerWorker - ConnectionCount);

    /// <summary>
    /// sysctl net.ipv4.vs.expire_quiescent_template (default 0): when set, a persistence template whose dest
    /// has weight 0 is invalid, so its clients are scheduled afresh; when clear, they stay on the quiesced dest.
    /// </summary>
    public bool ExpireQuiescentTemplate
    {
        get => Volatile.Read(ref _expireQuiescentTemplate);
        set => Volatile.Write(ref _expireQuiescentTemplate, value);
    }

    private IConnectionSync? _sync;

    /// <summary>
    /// Connection sync (Sync/), set once by the director at start; null without it. Workers read it per
    /// packet to publish changes (MASTER) and, on a miss, to take over synced connections.
    /// </summary>
    public IConnectionSync? Sync
    {
        get => Volatile.Read(ref _sync);
        set => Volatile.Write(ref _sync, value);
    }

    public int StartDaemon(SyncDaemonConfig config) => Sync?.StartDaemon(config) ?? IpvsErrno.ENOPROTOOPT;

    public int StopDaemon(SyncDaemonState state) => Sync?.StopDaemon(state) ?? IpvsErrno.ESRCH;

    public IReadOnlyList<SyncDaemonConfig> GetDaemons() => Sync?.GetDaemons() ?? [];

    /// <summary>
    /// sysctl net.ipv4.vs.sloppy_tcp (default 0): when set, any TCP packet but a RST may create a connection,
    /// not only a SYN (tcp_conn_schedule). A director that takes over established flows it never saw the SYN
    /// of (VRRP failover without connection sync, with mh or sh picking the same real server) needs it.
    /// </summary>
    public bool SloppyTcp
    {
        get => Volatile.Read(ref _sloppyTcp);
        set => Volatile.Write(ref _sloppyTcp, value);
    }

    /// <summary>
    /// Replaces the firewall-mark rules (<c>fulcrum run --fwmark-rules</c>): which packets carry which mark,
    /// so fwmark services (ipvsadm -f) receive traffic although the data plane never sees netfilter's marks.
    /// </summary>
    public void SetMarkRules(IReadOnlyList<FwMarkRule> rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        lock (_gate)
        {
            _markRules = [.. rules];
            Publish();
        }
        Changed?.Invoke();
    }

    /// <summary>Raised after each successful change of services, dests or timeouts (outside the lock).</summary>
    public event Action? Changed;

    /// <summary>The configuration workers read; replaced whole after every change.</summary>
    public ServiceSnapshot Snapshot => Volatile.Read(ref _snapshot);

    public int WorkerCount => _workers.Length;

    public int MaxConnectionsPerWorker => _maxConnectionsPerWorker;

    public int ConnectionTableSize => KernelConnectionTableSize;

    /// <summary>Monotonic milliseconds from the table's <see cref="TimeProvider"/>: the clock workers pass as nowMs.</summary>
    public long NowMs
    {
        get
        {
            long ts = _time.GetTimestamp();
            long freq = _time.TimestampFrequency;
            return ts / freq * 1000 + ts % freq * 1000 / freq;
        }
    }

    /// <summary>
    /// The balancer of worker <paramref name="index"/>, created on first call with its connection table.
    /// Later calls return the same instance, so a restarted worker thread keeps its connections.
    /// </summary>
    public Balancer CreateWorker(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _workers.Length);
        lock (_gate)
            return _workers[index] ??= new Balancer(this, index, _maxConnectionsPerWorker);
    }

    public int AddService(ServiceSpec service)
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (_gate)
        {
            if (_byKey.ContainsKey(service.Key))
                return IpvsErrno.EEXIST;
            int err = ValidateService(service);
            if (err != 0)
                return err;
            var svc = new VirtualService(service, _workers.Length);
            _services.Add(svc);
            _byKey.Add(service.Key, svc);
            Publish();
        }
        Changed?.Invoke();
        return IpvsErrno.Ok;
    }

    public int EditService(ServiceSpec service)
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (_gate)
        {
            if (!_byKey.TryGetValue(service.Key, out var svc))
                return IpvsErrno.ESRCH;
            int err = ValidateService(service);
            if (err != 0)
                return err;
            // ip_vs_edit_service rebinds only when the scheduler actually changes; otherwise its state stays.
            bool rebind = svc.Spec.Scheduler != service.Scheduler;
            svc.Spec = service;
            if (rebind)
                svc.ReplaceScheduler(service.Scheduler);
            Publish();
        }
        Changed?.Invoke();
        return IpvsErrno.Ok;
    }

    public int DeleteService(ServiceKey key)
    {
        lock (_gate)
        {
            if (!_byKey.TryGetValue(key, out var svc))
                return IpvsErrno.ESRCH;
            Unlink(svc);
            Publish();
        }
        Changed?.Invoke();
        return IpvsErrno.Ok;
    }

    public int Flush()
    {
        lock (_gate)
        {
            foreach (var svc in _services.ToArray())
                Unlink(svc);
            Publish();
        }
        Changed?.Invoke();
        return IpvsErrno.Ok;
    }

    public int AddDest(ServiceKey key, DestSpec dest)
    {
        ArgumentNullException.ThrowIfNull(dest);
        lock (_gate)
        {
            if (!_byKey.TryGetValue(key, out var svc))
                return IpvsErrno.ESRCH;
            int err = ValidateDest(svc, dest);
            if (err != 0)
                return err;
            if (!IsUnicast(dest.Address))
                return IpvsErrno.EINVAL; // ip_vs_new_dest: only unicast (or local) addresses
            ushort port = DestPort(key, dest);
            if (FindDest(svc, dest.Address, port) is not null)
                return IpvsErrno.EEXIST;

            PurgeTrash();
            var rs = TakeFromTrash(svc, dest.Address, port) ?? new RealServer(svc, dest.Address, port, _workers.Length);
            Apply(rs, dest, add: true);
            rs.Counters.ResetRates();
            rs.SetAvailable(true);
            // The kernel links a new dest at the head of the service's list.
            var old = svc.DestArray;
            var dests = new RealServer[old.Length + 1];
            dests[0] = rs;
            old.CopyTo(dests, 1);
            svc.DestArray = dests;
            Publish();
        }
        Changed?.Invoke();
        return IpvsErrno.Ok;
    }

    public int EditDest(ServiceKey key, DestSpec dest)
    {
        ArgumentNullException.ThrowIfNull(dest);
        lock (_gate)
        {
            if (!_byKey.TryGetValue(key, out var svc))
                return IpvsErrno.ESRCH;
            int err = ValidateDest(svc, dest);
            if (err != 0)
                return err;
            var rs = FindDest(svc, dest.Address, DestPort(key, dest));
            if (rs is null)
                return IpvsErrno.ENOENT;
            Apply(rs, dest, add: false);
            // A new array even though the members are the same: schedulers see the edit (upd_dest hook).
            svc.DestArray = (RealServer[])svc.DestArray.Clone();
            Publish();
        }
        Changed?.Invoke();
        return IpvsErrno.Ok;
    }

    public int DeleteDest(ServiceKey key, IPAddress address, ushort port)
    {
        ArgumentNullException.ThrowIfNull(address);
        lock (_gate)
        {
            if (!_byKey.TryGetValue(key, out var svc))
                return IpvsErrno.ESRCH;
            var rs = FindDest(svc, address, port);
            if (rs is null)
                return IpvsErrno.ENOENT;
            var old = svc.DestArray;
            var dests = new RealServer[old.Length - 1];
            int j = 0;
            foreach (var d in old)
            {
                if (!ReferenceEquals(d, rs))
                    dests[j++] = d;
            }
            svc.DestArray = dests;
            Retire(rs);
            Publish();
        }
        Changed?.Invoke();
        return IpvsErrno.Ok;
    }

    public int Zero(ServiceKey? key)
    {
        lock (_gate)
        {
            if (key is { } k)
            {
                if (!_byKey.TryGetValue(k, out var svc))
                    return IpvsErrno.ESRCH;
                ZeroService(svc);
            }
            else
            {
                foreach (var svc in _services)
                    ZeroService(svc);
            }
        }
        return IpvsErrno.Ok;
    }

    public int SetTimeouts(IpvsTimeouts timeouts)
    {
        // ip_vs_set_timeout: negative or too large values are EINVAL; 0 leaves a value unchanged.
        const int max = int.MaxValue / 1000;
        if (timeouts.Tcp is < 0 or > max || timeouts.TcpFin is < 0 or > max || timeouts.Udp is < 0 or > max)
            return IpvsErrno.EINVAL;
        lock (_gate)
        {
            var tcp = (long[])_tcpTimeoutsMs.Clone();
            if (timeouts.Tcp != 0)
                tcp[(int)IpvsTcpState.Established] = timeouts.Tcp * 1000L;
            if (timeouts.TcpFin != 0)
                tcp[(int)IpvsTcpState.FinWait] = timeouts.TcpFin * 1000L;
            _tcpTimeoutsMs = tcp;
            if (timeouts.Udp != 0)
                _udpTimeoutMs = timeouts.Udp * 1000L;
            Publish();
        }
        Changed?.Invoke();
        return IpvsErrno.Ok;
    }

    public IpvsTimeouts GetTimeouts()
    {
        lock (_gate)
        {
            return new IpvsTimeouts(
                (int)(_tcpTimeoutsMs[(int)IpvsTcpState.Established] / 1000),
                (int)(_tcpTimeoutsMs[(int)IpvsTcpState.FinWait] / 1000),
                (int)(_udpTimeoutMs / 1000));
        }
    }

    public IReadOnlyList<ServiceInfo> GetServices()
    {
        lock (_gate)
        {
            var list = new List<ServiceInfo>(_services.Count);
            foreach (var svc in _services)
                list.Add(Describe(svc));
            return list;
        }
    }

    public ServiceInfo? GetService(ServiceKey key)
    {
        lock (_gate)
            return _byKey.TryGetValue(key, out var svc) ? Describe(svc) : null;
    }

    /// <summary>Every worker's live connections (a best-effort read of tables that keep changing).</summary>
    public IReadOnlyList<ConnectionInfo> GetConnections()
    {
        var list = new List<ConnectionInfo>();
        long now = NowMs;
        Balancer?[] workers;
        lock (_gate)
            workers = (Balancer?[])_workers.Clone();
        foreach (var w in workers)
            w?.Collect(list, now);
        // A BACKUP lists what its MASTER synced, as the kernel's /proc/net/ip_vs_conn does.
        Sync?.CollectImported(list, now);
        return list;
    }

    /// <summary>Every worker's live connections and templates as sync records, for a bulk resync (a racy read, as -Lc).</summary>
    public void CollectForSync(List<SyncedConnection> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        long now = NowMs;
        var snapshot = Snapshot;
        Balancer?[] workers;
        lock (_gate)
            workers = (Balancer?[])_workers.Clone();
        foreach (var w in workers)
            w?.CollectSynced(into, snapshot, now);
    }

    /// <summary>
    /// One estimator step for every service and dest (ip_vs_est.c). The director calls it every
    /// <see cref="RatePeriod"/>; the elapsed time is measured, so a late call does not inflate rates.
    /// </summary>
    public void UpdateRates()
    {
        lock (_gate)
        {
            long now = _time.GetTimestamp();
            long elapsedMs = (long)_time.GetElapsedTime(_lastRateTimestamp, now).TotalMilliseconds;
            _lastRateTimestamp = now;
            foreach (var svc in _services)
            {
                svc.Counters.UpdateRates(elapsedMs);
                foreach (var d in svc.DestArray)
                    d.Counters.UpdateRates(elapsedMs);
            }
        }
    }

    private static int ValidateService(ServiceSpec spec)
    {
        if (!SchedulerFactory.IsKnown(spec.Scheduler))
            return IpvsErrno.ENOENT; // "Scheduler module ip_vs_%s not found"
        if (!string.IsNullOrEmpty(spec.PersistenceEngine))
            return IpvsErrno.ENOENT; // no persistence engine (sip) yet
        if (spec.Key.Address.AddressFamily == AddressFamily.InterNetworkV6 && spec.NetmaskPrefix is < 1 or > 128)
            return IpvsErrno.EINVAL;
        return IpvsErrno.Ok;
    }

    /// <summary>The checks ip_vs_genl_set_cmd and ip_vs_add_dest/ip_vs_edit_dest make, in their order.</summary>
    private static int ValidateDest(VirtualService svc, DestSpec dest)
    {
        // Only tunnelling crosses address families.
        if (dest.Address.AddressFamily != svc.Key.Address.AddressFamily && dest.Method != ForwardingMethod.Tunnel)
            return IpvsErrno.EINVAL;
        if (dest.Weight < 0)
            return IpvsErrno.ERANGE;
        if (dest.LowerThreshold > dest.UpperThreshold)
            return IpvsErrno.ERANGE;
        return IpvsErrno.Ok;
    }

    /// <summary>
    /// ipvsadm (process_options) stores a DR or TUN dest with the service's port: those methods cannot map
    /// ports. Done here too so every client of this table gets the same result.
    /// </summary>
    private static ushort DestPort(ServiceKey key, DestSpec dest) =>
        !key.IsFwMark && dest.Method is ForwardingMethod.DirectRoute or ForwardingMethod.Tunnel ? key.Port : dest.Port;

    private static bool IsUnicast(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            address.TryWriteBytes(b, out _);
            bool any = b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0;
            bool broadcast = b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255;
            bool multicast = (b[0] & 0xF0) == 0xE0;
            return !any && !broadcast && !multicast;
        }
        return !address.IsIPv6Multicast && !address.IsIPv6LinkLocal && !address.Equals(IPAddress.IPv6Any);
    }

    private static RealServer? FindDest(VirtualService svc, IPAddress address, ushort port)
    {
        foreach (var d in svc.DestArray)
        {
            if (d.Port == port && d.Address.Equals(address))
                return d;
        }
        return null;
    }

    /// <summary>__ip_vs_update_dest's field updates.</summary>
    private static void Apply(RealServer rs, DestSpec dest, bool add)
    {
        // "keep the last_weight with latest non-0 weight": mh builds its table from it.
        if (add || dest.Weight != 0)
            rs.LastWeight = dest.Weight;
        // A removed or raised upper threshold lifts the overload at once.
        if (dest.UpperThreshold == 0 || dest.UpperThreshold > rs.UpperThreshold)
            rs.SetOverloaded(false);
        rs.UpperThreshold = dest.UpperThreshold;
        rs.LowerThreshold = dest.LowerThreshold;
        rs.Method = dest.Method;
        rs.Weight = dest.Weight;
    }

    private RealServer? TakeFromTrash(VirtualService svc, IPAddress address, ushort port)
    {
        for (int i = 0; i < _trash.Count; i++)
        {
            var d = _trash[i];
            if (ReferenceEquals(d.Service, svc) && d.Port == port && d.Address.Equals(address))
            {
                _trash.RemoveAt(i);
                return d;
            }
        }
        return null;
    }

    private void PurgeTrash() => _trash.RemoveAll(static d => d.TotalConns == 0);

    private void Retire(RealServer rs)
    {
        rs.SetAvailable(false);
        PurgeTrash();
        if (rs.TotalConns > 0)
            _trash.Add(rs);
    }

    private void Unlink(VirtualService svc)
    {
        foreach (var d in svc.DestArray)
            Retire(d);
        svc.DestArray = [];
        _services.Remove(svc);
        _byKey.Remove(svc.Key);
    }

    private static void ZeroService(VirtualService svc)
    {
        svc.Counters.Zero();
        foreach (var d in svc.DestArray)
            d.Counters.Zero();
    }

    private static ServiceInfo Describe(VirtualService svc)
    {
        var dests = svc.DestArray;
        var infos = new DestInfo[dests.Length];
        // The contract lists dests in insertion order: the reverse of the kernel's head-first list.
        for (int i = 0; i < dests.Length; i++)
        {
            var d = dests[dests.Length - 1 - i];
            infos[i] = new DestInfo(d.ToSpec(), (uint)Math.Max(0, d.ActiveConns), (uint)Math.Max(0, d.InactiveConns),
                (uint)Math.Max(0, d.PersistentConns), d.Counters.Shown(), d.Counters.Rates);
        }
        return new ServiceInfo(svc.Spec, infos, svc.Counters.Shown(), svc.Counters.Rates);
    }

    private void Publish() =>
        Volatile.Write(ref _snapshot, new ServiceSnapshot([.. _services], _tcpTimeoutsMs, _udpTimeoutMs, ++_generation, _markRules));
}
