using System.Net;
using System.Net.Sockets;
using Fulcrum.Config;
using Fulcrum.Linux;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Vrrp;

/// <summary>Where the VRRP service runs.</summary>
public sealed class VrrpServiceOptions
{
    /// <summary>
    /// A named network namespace (/var/run/netns) for the VRRP thread to enter first: its sockets, `ip`
    /// commands and notify scripts then all live there. Null: the process's own namespace (the daemon).
    /// </summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>
    /// SCHED_FIFO priority (1..99) of the VRRP thread; 0 leaves it a normal thread. On by default: at advert
    /// 0.05 s a backup declares the master dead after about 160 ms, and on a director whose cores are busy
    /// (its own data plane, or anything else) a normal thread can wait longer than that for a CPU. Without
    /// CAP_SYS_NICE the thread falls back to nice -20, then to normal, and logs which it got. The environment
    /// variable FULCRUM_VRRP_RT_PRIORITY overrides the default of 10 (bench/vrrp-false-failover.sh sets 0 to compare).
    /// </summary>
    public int RealtimePriority { get; init; } = DefaultRealtimePriority();

    private static int DefaultRealtimePriority() =>
        int.TryParse(Environment.GetEnvironmentVariable("FULCRUM_VRRP_RT_PRIORITY"), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int p)
            ? Math.Clamp(p, 0, 99)
            : 10;
}

/// <summary>One instance as `fulcrum status` shows it; <see cref="Transitions"/> counts state changes since start (metrics).</summary>
public sealed record VrrpInstanceStatus(
    string Name,
    string? Interface,
    byte VirtualRouterId,
    int Version,
    VrrpInstanceState State,
    byte Priority,
    IPAddress? Master,
    IReadOnlyList<IPAddress> VirtualAddresses,
    long Transitions = 0);

/// <summary>An instance changed state: what <see cref="VrrpService.InstanceStateChanged"/> reports.</summary>
/// <param name="Instance">The instance as it is now (its new state in <see cref="VrrpInstanceStatus.State"/>).</param>
/// <param name="Previous">The state it left.</param>
public sealed record VrrpStateChange(VrrpInstanceStatus Instance, VrrpInstanceState Previous);

/// <summary>
/// Runs the configuration's vrrp_instances (IPv4) on one dedicated thread: it waits on all their sockets at
/// once with the nearest timer as the timeout, so every state machine and the sync groups are driven from
/// one place without locks. Members of a vrrp_sync_group move together: one becoming MASTER takes the others
/// to MASTER, one leaving MASTER takes them to BACKUP (keepalived's sync group rule). Stopping the service
/// resigns every MASTER with a priority-0 advert and removes its addresses. <see cref="Reload"/> applies a
/// new configuration's difference on the same thread (<see cref="VrrpReload"/>).
/// </summary>
public sealed class VrrpService : BackgroundService
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(100);

    private readonly TimeProvider _time;
    private readonly ILogger<VrrpService> _logger;
    private readonly VrrpServiceOptions _options;
    private readonly VrrpSyncGroups _syncGroups = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<(KeepalivedConfiguration Configuration, TaskCompletionSource Done)> _reloads = new();
    private readonly UnixDomainSocketEndPoint _wakeAddress = new("\0fulcrum-vrrp-" + Guid.NewGuid().ToString("N"));
    private readonly Socket _waker = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private KeepalivedConfiguration _configuration;
    private IReadOnlyList<VrrpInstanceStatus> _status = [];
    private List<VrrpLink> _links = [];

    // An instance that could not start yet (its address not usable) is retried from the loop at this time
    // (Environment.TickCount64, 0: nothing to retry); the names already logged as waiting, to log each once.
    private long _retryAtMs;
    private readonly HashSet<string> _waiting = new(StringComparer.Ordinal);

    public VrrpService(KeepalivedConfiguration configuration, TimeProvider time, ILogger<VrrpService> logger, VrrpServiceOptions? options = null)
    {
        _configuration = configuration;
        _time = time;
        _logger = logger;
        _options = options ?? new VrrpServiceOptions();
    }

    /// <summary>The instances' current states (a snapshot, replaced whenever one changes).</summary>
    public IReadOnlyList<VrrpInstanceStatus> Instances => Volatile.Read(ref _status);

    /// <summary>
    /// Raised on the VRRP thread as an instance changes state (<see cref="Instances"/> follows within the round). Handlers
    /// must return quickly: the thread also sends the adverts. Exceptions from handlers are logged and swallowed.
    /// </summary>
    public event Action<VrrpStateChange>? InstanceStateChanged;

    /// <summary>
    /// SIGHUP: applies <paramref name="configuration"/>'s vrrp_instances on the VRRP thread. New instances start,
    /// removed ones stop (a MASTER resigns with priority 0 and removes its addresses), changed ones are updated
    /// in place and keep their state, so an unchanged VIP of a MASTER never flaps; a different virtual router
    /// under the same name (interface, VRID, version) is restarted. Completes once applied (or the service stopped).
    /// </summary>
    public Task Reload(KeepalivedConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _reloads.Enqueue((configuration, done));
        Wake();
        return done.Task;
    }

    public override void Dispose()
    {
        _waker.Dispose();
        base.Dispose();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Body()
        {
            try
            {
                Run(stoppingToken);
                done.TrySetResult();
            }
            catch (Exception e)
            {
                _logger.LogError(e, "VRRP stopped on an error");
                done.TrySetException(e);
            }
        }

        if (_options.NetworkNamespace is { } ns)
        {
            NetworkNamespace.StartIn(ns, Body);
        }
        else
        {
            new Thread(Body) { IsBackground = true, Name = "vrrp" }.Start();
        }

        return done.Task;
    }

    private void Wake()
    {
        try
        {
            _waker.SendTo(new byte[1], _wakeAddress);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Not running yet (the first round reads the queue) or gone; the loop's timeout still ends it.
        }
    }

    private void Run(CancellationToken stoppingToken)
    {
        RaisePriority();
        using var tracking = new VrrpTracking(_configuration, _time, _logger);

        // Stopping must not wait for select's timeout: a MASTER's priority-0 advert is what lets the BACKUP
        // take over after skew time only; a reload should apply at once too. An abstract Unix datagram socket
        // (no file, no dependence on the namespace's loopback) wakes the select.
        using var wake = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        wake.Bind(_wakeAddress);
        using var wakeOnStop = stoppingToken.Register(Wake);
        var wakeBuffer = new byte[16];
        try
        {
            Apply(_configuration, tracking, initial: true);
            var buffer = new byte[65536];
            var readable = new List<Socket>();
            while (!stoppingToken.IsCancellationRequested)
            {
                while (_reloads.TryDequeue(out var reload))
                {
                    try
                    {
                        Apply(reload.Configuration, tracking, initial: false);
                    }
                    finally
                    {
                        reload.Done.TrySetResult();
                    }
                }

                var links = _links;
                TimeSpan wait = MaxWait;
                foreach (var link in links)
                {
                    if (link.Instance.DueIn is { } due && due < wait)
                        wait = due;
                }

                readable.Clear();
                foreach (var link in links)
                {
                    readable.Add(link.Socket);
                    readable.Add(link.ClaimListener);
                }

                readable.Add(wake);
                Socket.Select(readable, null, null, Math.Max(1, (int)(wait.Ticks / TimeSpan.TicksPerMicrosecond)));
                if (readable.Contains(wake))
                {
                    while (wake.Available > 0)
                        wake.Receive(wakeBuffer);
                }

                foreach (var link in links)
                {
                    if (readable.Contains(link.Socket))
                        link.Drain(buffer);
                    if (readable.Contains(link.ClaimListener))
                        link.DrainClaims(buffer);
                    link.Instance.Poll();
                }

                tracking.Poll();
                if (_retryAtMs != 0 && Environment.TickCount64 >= _retryAtMs)
                {
                    // The running instances are kept as they are (same configuration); only the waiting ones start.
                    _retryAtMs = 0;
                    Apply(_configuration, tracking, initial: true);
                }

                if (_syncGroups.Apply() || StatusMoved(links))
                    Publish(links);
            }
        }
        finally
        {
            foreach (var link in _links)
            {
                try
                {
                    link.Instance.Stop();
                }
                catch (Exception e)
                {
                    _logger.LogError(e, "({Instance}) clean stop failed", link.Instance.Name);
                }

                link.Dispose();
            }

            Publish(_links);
            while (_reloads.TryDequeue(out var reload))
                reload.Done.TrySetResult();
        }
    }

    private void RaisePriority()
    {
        if (_options.RealtimePriority <= 0)
            return;
        int fifo = ThreadScheduling.TrySetFifo(_options.RealtimePriority);
        if (fifo == 0)
        {
            VrrpLog.Scheduling(_logger, $"SCHED_FIFO priority {_options.RealtimePriority}");
            return;
        }

        int nice = ThreadScheduling.TrySetNice(-20);
        VrrpLog.Scheduling(_logger, nice == 0 ? $"nice -20 (SCHED_FIFO refused: errno {fifo})" : $"normal (SCHED_FIFO errno {fifo}, nice errno {nice})");
    }

    /// <summary>Brings the running instances to <paramref name="next"/>'s (all of them new on the first call).</summary>
    private void Apply(KeepalivedConfiguration next, VrrpTracking tracking, bool initial)
    {
        var wanted = new List<Fulcrum.Config.VrrpInstance>();
        foreach (var config in next.VrrpInstances)
            wanted.Add(config);

        var running = new List<Fulcrum.Config.VrrpInstance>(_links.Count);
        foreach (var link in _links)
            running.Add(link.Config);
        int[] pairs = VrrpReload.Pair(running, wanted);
        var continued = new bool[_links.Count];
        var actions = new VrrpReloadAction[wanted.Count];
        for (int i = 0; i < wanted.Count; i++)
        {
            if (pairs[i] < 0)
                continue;
            actions[i] = VrrpReload.ActionFor(_links[pairs[i]].Config, wanted[i]);
            continued[pairs[i]] = actions[i] != VrrpReloadAction.Replace;
        }

        // Removed (and replaced) instances go first, so their addresses are off the interface before a
        // continued or new instance that now carries one of them adds it.
        for (int j = 0; j < _links.Count; j++)
        {
            if (continued[j])
                continue;
            var link = _links[j];
            _logger.LogInformation("({Instance}) removed by the reload: stopping", link.Instance.Name);
            try
            {
                link.Instance.Stop();
            }
            finally
            {
                link.Dispose();
            }
        }

        var links = new List<VrrpLink>(wanted.Count);
        var started = new List<VrrpLink>();
        for (int i = 0; i < wanted.Count; i++)
        {
            var config = wanted[i];
            if (pairs[i] >= 0 && actions[i] != VrrpReloadAction.Replace)
            {
                var link = _links[pairs[i]];
                if (actions[i] == VrrpReloadAction.Update)
                {
                    _logger.LogInformation(
                        "({Instance}) changed by the reload ({Settings}): updated in place, staying {State}",
                        config.Name,
                        string.Join(", ", VrrpReload.Differences(link.Config, config)),
                        link.Instance.State.ToString().ToUpperInvariant());
                    link.Reconfigure(config);
                }

                links.Add(link);
                continue;
            }

            try
            {
                var link = new VrrpLink(config, _logger, OnStateChanged, _time);
                links.Add(link);
                started.Add(link);
                if (_waiting.Remove(config.Name))
                    _logger.LogInformation("({Instance}) its address is usable now: starting", config.Name);
                else if (!initial)
                    _logger.LogInformation("({Instance}) added by the reload: starting", config.Name);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
            {
                // An IPv6 instance binds to the link-local address, which stays tentative until DAD ends (about
                // a second after the link comes up, RFC 4862 §5.4): a director started with its interface must
                // wait for it, not give the instance up. Retried every second from the loop.
                _retryAtMs = Environment.TickCount64 + 1000;
                if (_waiting.Add(config.Name))
                    _logger.LogWarning("({Instance}) cannot start yet: {Error} (a tentative address?); retrying every second", config.Name, e.Message);
            }
            catch (Exception e) when (e is IOException or SocketException or InvalidOperationException or NotSupportedException)
            {
                // As keepalived: one broken instance (no such interface, no address) does not stop the others.
                _logger.LogError("({Instance}) cannot start: {Error}", config.Name, e.Message);
            }
        }

        _links = links;
        _configuration = next;
        var instances = new List<VrrpInstance>(links.Count);
        var tracked = new List<(VrrpInstance, Fulcrum.Config.VrrpInstance)>(links.Count);
        foreach (var link in links)
        {
            instances.Add(link.Instance);
            tracked.Add((link.Instance, link.Config));
        }

        _syncGroups.Configure(next.VrrpSyncGroups, instances);
        tracking.Reconfigure(next, tracked);
        foreach (var link in started)
            link.Instance.Start();

        tracking.Poll();
        _syncGroups.Apply();
        Publish(links);
    }

    private void OnStateChanged(VrrpInstance instance, VrrpInstanceState previous)
    {
        _syncGroups.Record(instance, previous);
        var handlers = InstanceStateChanged;
        if (handlers is null)
            return;
        foreach (var link in _links)
        {
            if (link.Instance != instance)
                continue;
            var change = new VrrpStateChange(StatusOf(link), previous);
            try
            {
                handlers(change);
            }
            catch (Exception e)
            {
                _logger.LogError(e, "({Instance}) a state change handler failed", instance.Name);
            }

            return;
        }
    }

    /// <summary>True when some instance's master or priority differs from the published status (they change without a state change).</summary>
    private bool StatusMoved(List<VrrpLink> links)
    {
        var published = Volatile.Read(ref _status);
        if (published.Count != links.Count)
            return true;
        for (int i = 0; i < links.Count; i++)
        {
            UInt128 master = links[i].Instance.MasterAddress;
            UInt128 shown = published[i].Master is { } m ? VrrpLink.ToNumber(m) : 0;
            if (master != shown || links[i].Instance.EffectivePriority != published[i].Priority)
                return true;
        }

        return false;
    }

    private static VrrpInstanceStatus StatusOf(VrrpLink link)
    {
        var i = link.Instance;
        var vips = new List<IPAddress>();
        foreach (var v in link.Config.VirtualIpAddresses)
            vips.Add(v.Address);
        IPAddress? master = i.MasterAddress == 0 ? null : VrrpLink.ToAddress(i.MasterAddress, link.Config.IsIpv6);
        return new VrrpInstanceStatus(i.Name, link.Config.Interface, link.Config.VirtualRouterId, link.Config.Version, i.State, i.EffectivePriority, master, vips, link.Transitions);
    }

    private void Publish(List<VrrpLink> links)
    {
        var list = new List<VrrpInstanceStatus>(links.Count);
        foreach (var link in links)
            list.Add(StatusOf(link));
        Volatile.Write(ref _status, list);
    }
}
