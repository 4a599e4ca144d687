using System.Net;
using System.Net.Sockets;
using Fulcrum.Balancing;
using Fulcrum.Config;
using Fulcrum.Linux;
using Fulcrum.Vrrp;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Sync;

/// <summary>What `fulcrum run` says about sync beyond ipvsadm's daemon options (Fulcrum's extensions).</summary>
public sealed record SyncOptions
{
    /// <summary>Unicast peers every daemon sends to besides the multicast group.</summary>
    public IReadOnlyList<IPEndPoint> Peers { get; init; } = [];

    /// <summary>HMAC-SHA256 key for every message; empty: kernel-compatible, no authentication.</summary>
    public ReadOnlyMemory<byte> AuthKey { get; init; }

    public SyncTuning Tuning { get; init; } = new();
}

/// <summary>
/// Connection sync for the director (ip_vs_sync.c's role): the MASTER and BACKUP daemons ipvsadm and
/// keepalived start and stop, the workers' queues, and the table of connections received as BACKUP
/// that workers take over after a takeover. Registered on <see cref="IpvsTable.Sync"/> at start.
/// </summary>
public sealed partial class SyncService : IConnectionSync, IHostedService, IDisposable
{
    private static readonly TimeSpan VrrpPollInterval = TimeSpan.FromMilliseconds(20);

    private readonly IpvsTable _table;
    private readonly SyncOptions _options;
    private readonly ILogger<SyncService> _logger;
    private readonly Lock _gate = new();
    private SyncDaemon? _master;
    private SyncDaemon? _backup;
    private ITimer? _follow;
    private Func<IReadOnlyList<VrrpInstanceStatus>?>? _vrrp;
    private LvsSyncDaemon? _followed;
    private SyncDaemonState? _followedState;

    public SyncService(IpvsTable table, TimeProvider time, ILogger<SyncService> logger, SyncOptions? options = null)
    {
        _table = table;
        Time = time;
        _logger = logger;
        _options = options ?? new SyncOptions();
        Tuning = _options.Tuning;
        Counters = new SyncCounters();
        Imported = new ImportedConnections(Tuning.ImportCapacity);
        Queues = new SyncQueue[table.WorkerCount];
        for (int i = 0; i < Queues.Length; i++)
            Queues[i] = new SyncQueue(Tuning.QueueCapacity);
    }

    internal TimeProvider Time { get; }

    internal SyncTuning Tuning { get; }

    internal SyncCounters Counters { get; }

    internal ImportedConnections Imported { get; }

    internal SyncQueue[] Queues { get; }

    internal long NowMs => _table.NowMs;

    public bool IsMaster => Volatile.Read(ref _master) is not null;

    public void Publish(int worker, in SyncedConnection connection)
    {
        var queues = Queues;
        if ((uint)worker < (uint)queues.Length)
            queues[worker].TryEnqueue(in connection);
    }

    public bool TryImport(in ConnectionKey key, long nowMs, out SyncedConnection connection) =>
        Imported.TryGet(in key, nowMs, out connection);

    public void Adopted(in ConnectionKey key) => Imported.MarkAdopted(in key);

    public void CollectImported(List<ConnectionInfo> into, long nowMs) => Imported.Collect(into, nowMs);

    /// <summary>The whole table as sync records, for a resync (a racy read of the workers' tables, as -Lc).</summary>
    internal List<SyncedConnection> CollectTable()
    {
        var list = new List<SyncedConnection>();
        _table.CollectForSync(list);
        return list;
    }

    public int StartDaemon(SyncDaemonConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        lock (_gate)
        {
            if ((config.State == SyncDaemonState.Master ? _master : _backup) is not null)
                return IpvsErrno.EEXIST;
            int ifIndex;
            int mtu;
            try
            {
                ifIndex = NetInterface.GetIndex(config.Interface);
                mtu = NetInterface.GetMtu(config.Interface);
            }
            catch (Exception e) when (e is IOException or LinuxException or ArgumentException or UnauthorizedAccessException)
            {
                LogNoInterface(config.Interface);
                return IpvsErrno.ENODEV;
            }

            var effective = Effective(config, mtu);
            SyncDaemon daemon;
            try
            {
                daemon = new SyncDaemon(effective, ifIndex, this, _logger);
            }
            catch (SocketException e)
            {
                LogSocketFailed(config.Interface, e.Message);
                return e.NativeErrorCode > 0 ? e.NativeErrorCode : IpvsErrno.EINVAL;
            }

            daemon.Start();
            if (config.State == SyncDaemonState.Master)
                Volatile.Write(ref _master, daemon);
            else
                Volatile.Write(ref _backup, daemon);
            return IpvsErrno.Ok;
        }
    }

    public int StopDaemon(SyncDaemonState state)
    {
        SyncDaemon? daemon;
        lock (_gate)
        {
            daemon = state == SyncDaemonState.Master ? _master : _backup;
            if (daemon is null)
                return IpvsErrno.ESRCH;
            if (state == SyncDaemonState.Master)
                Volatile.Write(ref _master, null);
            else
                Volatile.Write(ref _backup, null);
            daemon.Dispose();
            if (state == SyncDaemonState.Master)
            {
                // Workers see IsMaster false from now on; what they queued before is stale for a next MASTER.
                foreach (var q in Queues)
                    q.Clear();
            }
        }
        LogStopped(state == SyncDaemonState.Master ? "MASTER" : "BACKUP");
        return IpvsErrno.Ok;
    }

    public IReadOnlyList<SyncDaemonConfig> GetDaemons()
    {
        var list = new List<SyncDaemonConfig>(2);
        if (Volatile.Read(ref _master) is { } m)
            list.Add(m.Config);
        if (Volatile.Read(ref _backup) is { } b)
            list.Add(b.Config);
        return list;
    }

    /// <summary>Counters and state for status and metrics.</summary>
    public SyncStatus GetStatus()
    {
        var c = Counters;
        long drops = 0;
        foreach (var q in Queues)
            drops += Interlocked.Read(ref q.Dropped);
        long last = Volatile.Read(ref c.LastReceivedTimestamp);
        return new SyncStatus
        {
            Daemons = GetDaemons(),
            SentMessages = Interlocked.Read(ref c.SentMessages),
            SentRecords = Interlocked.Read(ref c.SentRecords),
            SentBytes = Interlocked.Read(ref c.SentBytes),
            SendErrors = Interlocked.Read(ref c.SendErrors),
            QueueDrops = drops,
            ReceivedMessages = Interlocked.Read(ref c.ReceivedMessages),
            ReceivedRecords = Interlocked.Read(ref c.ReceivedRecords),
            ReceivedBytes = Interlocked.Read(ref c.ReceivedBytes),
            MalformedMessages = Interlocked.Read(ref c.MalformedMessages),
            SkippedRecords = Interlocked.Read(ref c.SkippedRecords),
            OtherSyncId = Interlocked.Read(ref c.OtherSyncId),
            AuthFailures = Interlocked.Read(ref c.AuthFailures),
            InstallDrops = Interlocked.Read(ref c.InstallDrops),
            ResyncRequestsSent = Interlocked.Read(ref c.ResyncRequestsSent),
            ResyncRequestsServed = Interlocked.Read(ref c.ResyncRequestsServed),
            ImportedConnections = Imported.Count,
            LastReceivedAge = last == 0 ? null : Time.GetElapsedTime(last),
        };
    }

    /// <summary>
    /// start_sync_thread's defaults: group 224.0.0.81 (IPv4), port 8848, TTL 1; sync_maxlen from the MTU
    /// less the IP and UDP headers: a MASTER assumes 1500, a BACKUP takes its interface's (1500..65535),
    /// and a given maxlen is clamped to 1..(65535 - headers) (a BACKUP's to at least 1024). Our
    /// extensions (peers, key) come from <see cref="SyncOptions"/> unless the config names its own.
    /// </summary>
    internal SyncDaemonConfig Effective(SyncDaemonConfig c, int deviceMtu)
    {
        var group = c.Group ?? SyncCodec.DefaultGroup;
        int hlen = group.AddressFamily == AddressFamily.InterNetworkV6 ? SyncCodec.Ipv6UdpOverhead : SyncCodec.Ipv4UdpOverhead;
        bool backup = c.State == SyncDaemonState.Backup;
        int mtu = backup ? Math.Clamp(deviceMtu, 1500, 65535) : 1500;
        int maxlen = c.MaxLength != 0 ? Math.Clamp(c.MaxLength, backup ? 1024 : 1, 65535 - hlen) : mtu - hlen;
        return c with
        {
            Group = group,
            Port = c.Port == 0 ? SyncCodec.DefaultPort : c.Port,
            Ttl = c.Ttl == 0 ? SyncCodec.DefaultTtl : c.Ttl,
            MaxLength = maxlen,
            Peers = c.Peers.Count > 0 ? c.Peers : _options.Peers,
            AuthKey = c.AuthKey.IsEmpty ? _options.AuthKey : c.AuthKey,
        };
    }

    /// <summary>
    /// keepalived's lvs_sync_daemon: with a VRRP instance, the daemon is BACKUP from the start and
    /// follows the instance, MASTER while it is MASTER (ipvs_syncd_master: stop BACKUP, start MASTER) and
    /// BACKUP otherwise (ipvs_syncd_backup); its syncid defaults to the instance's virtual_router_id.
    /// Without an instance keepalived's checker runs MASTER and BACKUP together, syncid 0. Null stops
    /// whatever a previous configuration started. <paramref name="vrrp"/> gives the instances' states.
    /// </summary>
    public void Follow(LvsSyncDaemon? daemon, KeepalivedConfiguration configuration, Func<IReadOnlyList<VrrpInstanceStatus>?> vrrp)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        lock (_gate)
        {
            if (daemon == _followed)
                return;
            _follow?.Dispose();
            _follow = null;
        }

        if (_followed is not null)
        {
            StopDaemon(SyncDaemonState.Master);
            StopDaemon(SyncDaemonState.Backup);
        }

        _followed = daemon;
        _followedState = null;
        _vrrp = vrrp;
        if (daemon is null)
            return;

        int syncId = daemon.SyncId ?? 0;
        if (daemon.VrrpInstance is { } name && daemon.SyncId is null)
        {
            foreach (var i in configuration.VrrpInstances)
            {
                if (i.Name == name)
                    syncId = i.VirtualRouterId;
            }
        }

        _followedConfig = new SyncDaemonConfig(SyncDaemonState.Backup, daemon.Interface, syncId, daemon.MaxLength ?? 0,
            daemon.Group, daemon.Port, daemon.Ttl ?? 0);
        if (daemon.VrrpInstance is null)
        {
            Report(StartDaemon(_followedConfig with { State = SyncDaemonState.Master }), SyncDaemonState.Master);
            Report(StartDaemon(_followedConfig), SyncDaemonState.Backup);
            return;
        }

        FollowVrrp();
        lock (_gate)
            _follow = Time.CreateTimer(_ => FollowVrrp(), null, VrrpPollInterval, VrrpPollInterval);
    }

    private SyncDaemonConfig? _followedConfig;

    private void FollowVrrp()
    {
        var daemon = _followed;
        var config = _followedConfig;
        if (daemon?.VrrpInstance is not { } name || config is null)
            return;
        var state = VrrpInstanceState.Init;
        foreach (var i in _vrrp?.Invoke() ?? [])
        {
            if (i.Name == name)
                state = i.State;
        }

        var want = state == VrrpInstanceState.Master ? SyncDaemonState.Master : SyncDaemonState.Backup;
        if (want == _followedState)
            return;
        _followedState = want;
        var other = want == SyncDaemonState.Master ? SyncDaemonState.Backup : SyncDaemonState.Master;
        StopDaemon(other);
        Report(StartDaemon(config with { State = want }), want);
    }

    private void Report(int errno, SyncDaemonState state)
    {
        if (errno != IpvsErrno.Ok && errno != IpvsErrno.EEXIST)
            LogStartFailed(state == SyncDaemonState.Master ? "MASTER" : "BACKUP", errno);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _table.Sync = this;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _follow?.Dispose();
            _follow = null;
        }
        StopDaemon(SyncDaemonState.Master);
        StopDaemon(SyncDaemonState.Backup);
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _follow?.Dispose();
        _master?.Dispose();
        _backup?.Dispose();
    }

    [LoggerMessage(EventId = 910, Level = LogLevel.Information, Message = "sync daemon stopped: {State}")]
    private partial void LogStopped(string state);

    [LoggerMessage(EventId = 911, Level = LogLevel.Error, Message = "sync daemon: no interface {Interface}")]
    private partial void LogNoInterface(string @interface);

    [LoggerMessage(EventId = 912, Level = LogLevel.Error, Message = "sync daemon on {Interface}: {Error}")]
    private partial void LogSocketFailed(string @interface, string error);

    [LoggerMessage(EventId = 913, Level = LogLevel.Error, Message = "lvs_sync_daemon: cannot start the {State} daemon: errno {Errno}")]
    private partial void LogStartFailed(string state, int errno);
}
