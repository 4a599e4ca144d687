using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Config;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RealServer = Fulcrum.Config.RealServer;

namespace Fulcrum.Health;

/// <summary>
/// Keeps the real servers of the configured virtual servers in the running table according to their
/// health checks, as keepalived's checker process does (ipwrapper.c):
/// <list type="bullet">
/// <item>a real server is alive while all its checkers are up (one with none is always alive);
/// alive ⇒ in the pool with its weight (misc_dynamic's when reported); dead ⇒ removed, or kept at
/// weight 0 with inhibit_on_failure;</item>
/// <item>quorum: the sum of live weights is gained at ≥ quorum + hysteresis and lost at 0 or
/// &lt; quorum − hysteresis; quorum_up / quorum_down run on each transition;</item>
/// <item>without quorum and with a sorry_server, the sorry server (weight 1) replaces the live real
/// servers, which come back when quorum returns; an inhibited sorry server waits at weight 0.</item>
/// </list>
/// The table is changed only on a transition, and only for the destinations the configuration names,
/// so `fulcrum adm` edits of other destinations are left alone.
/// </summary>
public sealed partial class HealthMonitor : IAsyncDisposable
{
    private readonly IIpvsControl _ipvs;
    private readonly ILogger _logger;
    private readonly HealthMonitorOptions _options;
    private readonly TimeProvider _time;
    private readonly Func<HealthCheck, IHealthChecker> _checkerFactory;
    private readonly Lock _gate = new();

    // Destinations the monitor must not touch: being drained, or drained out by the operator
    // (until the next configuration).
    private readonly HashSet<DestId> _draining = [];
    private readonly HashSet<DestId> _drainedOut = [];
    private List<VsState> _servers = [];
    private CancellationTokenSource? _loopsCts;
    private List<Task> _loops = [];
    private bool _started;

    public HealthMonitor(KeepalivedConfiguration config, IIpvsControl ipvs, ILogger<HealthMonitor>? logger = null, HealthMonitorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(ipvs);
        _ipvs = ipvs;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _options = options ?? new HealthMonitorOptions();
        _time = _options.Time;
        var env = _options.Checkers ?? new CheckerEnvironment { Time = _time };
        _checkerFactory = _options.CheckerFactory ?? (check => HealthCheckers.Create(check, env));
        _servers = Build(config, null);
    }

    /// <summary>Raised (outside the monitor's lock) after a real server changes state or weight.</summary>
    public event Action<RealServerHealth>? RealServerChanged;

    /// <summary>
    /// Puts the initial state into the table (creating the services if missing) and starts the
    /// checkers. Real servers start alive unless one of their checkers has alpha set.
    /// </summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_started)
            {
                throw new InvalidOperationException("the health monitor is already started");
            }

            _started = true;
            foreach (var vs in _servers)
            {
                InitQuorum(vs);
                Reconcile(vs);
            }

            StartLoops();
        }
    }

    /// <summary>Stops the checkers and waits for them. The table is left as it is.</summary>
    public async Task StopAsync()
    {
        CancellationTokenSource? cts;
        List<Task> loops;
        lock (_gate)
        {
            cts = _loopsCts;
            loops = _loops;
            _loopsCts = null;
            _loops = [];
            _started = false;
        }

        if (cts is null)
        {
            return;
        }

        await cts.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(loops).ConfigureAwait(false);
        cts.Dispose();
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>
    /// Switches to a new configuration (SIGHUP): real servers that stay keep their state and their
    /// checkers' state; new ones start as at startup; a real server the new configuration no longer
    /// names is drained (weight 0, removed when its connections end or after
    /// <see cref="HealthMonitorOptions.RemovedServerDrain"/>).
    /// </summary>
    public void UpdateConfiguration(KeepalivedConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        CancellationTokenSource? oldCts;
        List<Task> oldLoops;
        var removed = new List<DestId>();
        lock (_gate)
        {
            var old = _servers;
            _servers = Build(config, old);
            foreach (var o in old)
            {
                foreach (var rs in o.Real)
                {
                    rs.Retired = true;
                }

                var now = _servers.Find(n => n.Config.Id == o.Config.Id);
                if (now is null)
                {
                    // The whole virtual server is gone: the configuration's own diff removes the service.
                    continue;
                }

                foreach (var (spec, rsDests, _) in o.Services)
                {
                    foreach (var d in rsDests)
                    {
                        var id = new DestId(spec.Key, d.Address, d.Port);
                        if (!now.Manages(id))
                        {
                            removed.Add(id);
                        }
                    }
                }
            }

            _drainedOut.Clear();
            oldCts = _loopsCts;
            oldLoops = _loops;
            _loopsCts = null;
            _loops = [];
            if (_started)
            {
                foreach (var vs in _servers)
                {
                    if (!vs.QuorumKnown)
                    {
                        InitQuorum(vs);
                    }

                    Reconcile(vs);
                }

                StartLoops();
            }
        }

        oldCts?.Cancel();
        if (oldCts is not null)
        {
            _ = Task.WhenAll(oldLoops).ContinueWith(_ => oldCts.Dispose(), TaskScheduler.Default);
        }

        foreach (var id in removed)
        {
            _ = DrainAsync(id.Service, id.Address, id.Port, _options.RemovedServerDrain);
        }
    }

    /// <summary>Every configured real server's health, for `fulcrum status`.</summary>
    public IReadOnlyList<RealServerHealth> GetRealServers()
    {
        lock (_gate)
        {
            var list = new List<RealServerHealth>();
            foreach (var vs in _servers)
            {
                foreach (var rs in vs.Real)
                {
                    list.Add(Snapshot(rs));
                }
            }

            return list;
        }
    }

    /// <summary>Every configured virtual server's quorum state.</summary>
    public IReadOnlyList<VirtualServerHealth> GetVirtualServers()
    {
        lock (_gate)
        {
            var list = new List<VirtualServerHealth>();
            foreach (var vs in _servers)
            {
                var keys = new List<ServiceKey>(vs.Services.Count);
                foreach (var s in vs.Services)
                {
                    keys.Add(s.Spec.Key);
                }

                list.Add(new VirtualServerHealth(vs.Config.Id, keys, vs.QuorumUp, LiveWeight(vs), SorryActive(vs)));
            }

            return list;
        }
    }

    /// <summary>
    /// The services and destinations health implies right now: what a configuration reload should
    /// diff the running table against (<see cref="IpvsDiff.Compute"/>) instead of the all-healthy view.
    /// </summary>
    public IReadOnlyList<(ServiceSpec Service, IReadOnlyList<DestSpec> Dests)> DesiredTable()
    {
        lock (_gate)
        {
            var result = new List<(ServiceSpec, IReadOnlyList<DestSpec>)>();
            foreach (var vs in _servers)
            {
                foreach (var s in vs.Services)
                {
                    var desired = Desired(vs, s);
                    var list = new List<DestSpec>(desired.Count);
                    foreach (var d in desired.Values)
                    {
                        list.Add(d);
                    }

                    result.Add((s.Spec, list));
                }
            }

            return result;
        }
    }

    /// <summary>
    /// Graceful drain (our extension; `fulcrum adm -d --drain SECONDS`): sets the destination's weight
    /// to 0 so it gets no new connections, then deletes it once its active and inactive connections
    /// reach 0 or <paramref name="deadline"/> passes. Until the next configuration the monitor leaves
    /// it out, even when its checks pass.
    /// </summary>
    public async Task<DrainOutcome> DrainAsync(ServiceKey key, IPAddress address, ushort port, TimeSpan deadline, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        var id = new DestId(key, address, port);
        lock (_gate)
        {
            var dest = FindDest(key, address, port);
            if (dest is null)
            {
                return DrainOutcome.NotFound;
            }

            _draining.Add(id);
            if (dest.Spec.Weight != 0)
            {
                Apply("edit", key, dest.Spec with { Weight = 0 }, _ipvs.EditDest(key, dest.Spec with { Weight = 0 }));
            }
        }

        LogDraining(Format(address, port), Format(key), deadline);
        long start = _time.GetTimestamp();
        var outcome = DrainOutcome.Drained;
        try
        {
            while (true)
            {
                var dest = FindDest(key, address, port);
                if (dest is null || dest.ActiveConns + dest.InactiveConns == 0)
                {
                    break;
                }

                var left = deadline - _time.GetElapsedTime(start);
                if (left <= TimeSpan.Zero)
                {
                    outcome = DrainOutcome.DeadlineReached;
                    break;
                }

                var wait = left < _options.DrainPollInterval ? left : _options.DrainPollInterval;
                await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            }

            lock (_gate)
            {
                int err = _ipvs.DeleteDest(key, address, port);
                if (err is not IpvsErrno.Ok and not IpvsErrno.ENOENT and not IpvsErrno.ESRCH)
                {
                    LogIpvsFailed("delete", Format(address, port), Format(key), err);
                }

                _draining.Remove(id);
                _drainedOut.Add(id);
            }
        }
        catch (OperationCanceledException)
        {
            lock (_gate)
            {
                _draining.Remove(id);
            }

            throw;
        }

        LogDrained(Format(address, port), Format(key), outcome == DrainOutcome.Drained ? "no connections left" : "deadline reached");
        return outcome;
    }

    private DestInfo? FindDest(ServiceKey key, IPAddress address, ushort port)
    {
        var info = _ipvs.GetService(key);
        if (info is null)
        {
            return null;
        }

        foreach (var d in info.Dests)
        {
            if (d.Spec.Port == port && d.Spec.Address.Equals(address))
            {
                return d;
            }
        }

        return null;
    }

    private void StartLoops()
    {
        _loopsCts = new CancellationTokenSource();
        var token = _loopsCts.Token;
        foreach (var vs in _servers)
        {
            foreach (var rs in vs.Real)
            {
                foreach (var check in rs.Checks)
                {
                    _loops.Add(Task.Run(() => check.RunAsync(token), CancellationToken.None));
                }
            }
        }
    }

    private List<VsState> Build(KeepalivedConfiguration config, List<VsState>? previous)
    {
        var list = new List<VsState>();
        foreach (var vsConfig in config.VirtualServers)
        {
            var old = previous?.Find(o => o.Config.Id == vsConfig.Id);
            var vs = new VsState(vsConfig);

            // KeepalivedIpvs owns the mapping (groups, fwmarks, ports per forwarding method); one
            // virtual server at a time keeps its dests in real_server order.
            var single = config with { VirtualServers = [vsConfig] };
            var all = KeepalivedIpvs.ToIpvs(single);
            var allDown = KeepalivedIpvs.ToIpvs(single, static (_, _) => false);
            for (int i = 0; i < all.Count; i++)
            {
                DestSpec? sorry = vsConfig.SorryServer is not null && allDown[i].Dests.Count > 0 ? allDown[i].Dests[^1] : null;
                vs.Services.Add((all[i].Service, [.. all[i].Dests], sorry));
            }

            for (int i = 0; i < vsConfig.RealServers.Count; i++)
            {
                var rsConfig = vsConfig.RealServers[i];
                var was = old?.Real.Find(r => r.Config.Address.Equals(rsConfig.Address) && r.Config.Port == rsConfig.Port);
                var rs = new RsState(vs, rsConfig, i)
                {
                    Since = was?.Since ?? _time.GetUtcNow(),
                };
                for (int c = 0; c < rsConfig.Checkers.Count; c++)
                {
                    var check = rsConfig.Checkers[c];
                    IHealthChecker checker;
                    try
                    {
                        checker = _checkerFactory(check);
                    }
                    catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
                    {
                        LogCheckerInvalid(Format(rsConfig), vsConfig.Id.ToString(), ex.Message);
                        continue;
                    }

                    bool? initial = null;
                    if (was is not null && c < was.Checks.Count && was.Checks[c].Checker.Kind == checker.Kind)
                    {
                        initial = was.Checks[c].IsUp;
                    }

                    var scheduler = new CheckScheduler(checker, check.Timing, _time, (s, e) => OnCheckEvent(rs, s, e), _options.Random, initial);
                    if (was is not null && c < was.Checks.Count && was.Checks[c].Weight is int w && scheduler.Checker.Kind == "MISC_CHECK")
                    {
                        scheduler.SeedWeight(w);
                    }

                    rs.Checks.Add(scheduler);
                }

                rs.Alive = AllUp(rs);
                rs.Weight = EffectiveWeight(rs);
                vs.Real.Add(rs);
            }

            if (old is not null && old.QuorumKnown)
            {
                vs.QuorumUp = old.QuorumUp;
                vs.QuorumKnown = true;
            }

            list.Add(vs);
        }

        return list;
    }

    private static bool AllUp(RsState rs)
    {
        foreach (var c in rs.Checks)
        {
            if (!c.IsUp)
            {
                return false;
            }
        }

        return true;
    }

    // The last misc_dynamic weight reported, else the configured weight (check_misc.c update_svr_wgt).
    private static int EffectiveWeight(RsState rs)
    {
        int weight = rs.Config.Weight;
        foreach (var c in rs.Checks)
        {
            if (c.Weight is int w)
            {
                weight = w;
            }
        }

        return weight;
    }

    private void OnCheckEvent(RsState rs, CheckScheduler check, CheckEvent e)
    {
        string name = Format(rs.Config);
        switch (e.Kind)
        {
            case CheckEventKind.Retrying or CheckEventKind.Failed when check.Timing.LogAllFailures:
                // log_all_failures: every failed check at Information, not only state changes.
                LogCheckFailure(check.Checker.Kind, name, e.Result.Reason ?? "");
                return;
            case CheckEventKind.Retrying:
                LogCheckRetry(check.Checker.Kind, name, e.Result.Reason ?? "", e.Retry, check.Timing.Retry);
                return;
            case CheckEventKind.Failed:
                LogCheckFailed(check.Checker.Kind, name, e.Result.Reason ?? "");
                return;
        }

        RealServerHealth? changed = null;
        lock (_gate)
        {
            if (rs.Retired)
            {
                return;
            }

            if (e.Kind is CheckEventKind.Up or CheckEventKind.Down)
            {
                LogCheckerState(check.Checker.Kind, name, rs.Vs.Config.Id.ToString(), e.Kind == CheckEventKind.Up ? "up" : "down", e.Result.Reason ?? "ok");
            }

            bool alive = AllUp(rs);
            int weight = EffectiveWeight(rs);
            if (alive == rs.Alive && weight == rs.Weight)
            {
                return;
            }

            if (weight != rs.Weight)
            {
                LogWeight(name, rs.Vs.Config.Id.ToString(), rs.Weight, weight);
                rs.Weight = weight;
            }

            if (alive != rs.Alive)
            {
                rs.Alive = alive;
                rs.Since = _time.GetUtcNow();
                LogRealServerState(name, rs.Vs.Config.Id.ToString(), alive ? "UP" : "DOWN", rs.Config.InhibitOnFailure && !alive ? " (inhibited: weight 0)" : "");
                RunScript(alive ? rs.Config.NotifyUp : rs.Config.NotifyDown);
            }

            if (_started)
            {
                UpdateQuorum(rs.Vs);
                Reconcile(rs.Vs);
            }

            changed = Snapshot(rs);
        }

        RealServerChanged?.Invoke(changed);
    }

    private static long LiveWeight(VsState vs)
    {
        long sum = 0;
        foreach (var rs in vs.Real)
        {
            if (rs.Alive)
            {
                sum += rs.Weight;
            }
        }

        return sum;
    }

    private static bool SorryActive(VsState vs) => !vs.QuorumUp && vs.Config.SorryServer is not null;

    // ipwrapper.c set_quorum_states / init_service_vs: quorum starts up at ≥ quorum + hysteresis;
    // starting without it runs quorum_down only when a sorry server has to step in.
    private void InitQuorum(VsState vs)
    {
        long sum = LiveWeight(vs);
        vs.QuorumUp = sum >= vs.Config.Quorum + vs.Config.Hysteresis;
        vs.QuorumKnown = true;
        if (!vs.QuorumUp && vs.Config.SorryServer is not null)
        {
            LogQuorum(vs.Config.Id.ToString(), "starting with quorum down", sum, vs.Config.Quorum, vs.Config.Hysteresis);
            RunScript(vs.Config.QuorumDown);
        }
    }

    // ipwrapper.c update_quorum_state.
    private void UpdateQuorum(VsState vs)
    {
        long sum = LiveWeight(vs);
        int quorum = vs.Config.Quorum;
        int hysteresis = vs.Config.Hysteresis;
        if (!vs.QuorumUp && sum >= quorum + hysteresis)
        {
            vs.QuorumUp = true;
            LogQuorum(vs.Config.Id.ToString(), "gained quorum", sum, quorum, hysteresis);
            RunScript(vs.Config.QuorumUp);
        }
        else if (vs.QuorumUp && (sum == 0 || sum < quorum - hysteresis))
        {
            vs.QuorumUp = false;
            LogQuorum(vs.Config.Id.ToString(), "lost quorum", sum, quorum, hysteresis);
            RunScript(vs.Config.QuorumDown);
        }
    }

    private void RunScript(string? script)
    {
        if (string.IsNullOrWhiteSpace(script))
        {
            return;
        }

        LogScript(script);
        ScriptRunner.Fire(script, _options.ScriptTimeout, _time, ex => LogScriptFailed(script, ex.Message));
    }

    /// <summary>What the table should hold for one service of a virtual server, keyed by destination.</summary>
    private Dictionary<(IPAddress, ushort), DestSpec> Desired(VsState vs, (ServiceSpec Spec, DestSpec[] RsDests, DestSpec? Sorry) s)
    {
        var key = s.Spec.Key;
        bool sorryActive = SorryActive(vs);
        var desired = new Dictionary<(IPAddress, ushort), DestSpec>();
        for (int i = 0; i < vs.Real.Count; i++)
        {
            var rs = vs.Real[i];
            var d = s.RsDests[rs.Index];
            if (Excluded(new DestId(key, d.Address, d.Port)))
            {
                continue;
            }

            if (rs.Alive && !sorryActive)
            {
                desired[(d.Address, d.Port)] = d with { Weight = rs.Weight };
            }
            else if (rs.Config.InhibitOnFailure)
            {
                // ipvswrapper.c: a delete of an inhibited real server is an edit to weight 0.
                desired[(d.Address, d.Port)] = d with { Weight = 0 };
            }
        }

        if (s.Sorry is { } sorry && !Excluded(new DestId(key, sorry.Address, sorry.Port)) && !desired.ContainsKey((sorry.Address, sorry.Port)))
        {
            if (sorryActive)
            {
                desired[(sorry.Address, sorry.Port)] = sorry;
            }
            else if (vs.Config.SorryServer!.Inhibit)
            {
                desired[(sorry.Address, sorry.Port)] = sorry with { Weight = 0 };
            }
        }

        return desired;
    }

    private bool Excluded(DestId id) => _draining.Contains(id) || _drainedOut.Contains(id);

    /// <summary>Brings the table's destinations of one virtual server to what health implies.</summary>
    private void Reconcile(VsState vs)
    {
        foreach (var s in vs.Services)
        {
            var key = s.Spec.Key;
            var desired = Desired(vs, s);
            var info = _ipvs.GetService(key);
            var current = new Dictionary<(IPAddress, ushort), DestSpec>();
            if (info is null)
            {
                int err = _ipvs.AddService(s.Spec);
                if (err is not IpvsErrno.Ok and not IpvsErrno.EEXIST)
                {
                    LogIpvsFailed("add service", "-", Format(key), err);
                    continue;
                }
            }
            else
            {
                foreach (var d in info.Dests)
                {
                    current[(d.Spec.Address, d.Spec.Port)] = d.Spec;
                }
            }

            foreach (var (id, want) in desired)
            {
                if (!current.TryGetValue(id, out var have))
                {
                    Apply("add", key, want, _ipvs.AddDest(key, want));
                }
                else if (have != want)
                {
                    Apply("edit", key, want, _ipvs.EditDest(key, want));
                }
            }

            foreach (var managed in Managed(s))
            {
                var id = (managed.Address, managed.Port);
                if (!desired.ContainsKey(id) && current.ContainsKey(id) && !Excluded(new DestId(key, managed.Address, managed.Port)))
                {
                    Apply("delete", key, managed, _ipvs.DeleteDest(key, managed.Address, managed.Port));
                }
            }
        }
    }

    private static IEnumerable<DestSpec> Managed((ServiceSpec Spec, DestSpec[] RsDests, DestSpec? Sorry) s)
    {
        foreach (var d in s.RsDests)
        {
            yield return d;
        }

        if (s.Sorry is { } sorry)
        {
            yield return sorry;
        }
    }

    private void Apply(string operation, ServiceKey key, DestSpec dest, int err)
    {
        if (err != IpvsErrno.Ok)
        {
            LogIpvsFailed(operation, Format(dest.Address, dest.Port), Format(key), err);
        }
    }

    private RealServerHealth Snapshot(RsState rs)
    {
        var checks = new List<CheckerHealth>(rs.Checks.Count);
        foreach (var c in rs.Checks)
        {
            checks.Add(new CheckerHealth(c.Checker.Kind, c.IsUp, c.LastFailure, c.LastRun));
        }

        bool draining = false;
        foreach (var s in rs.Vs.Services)
        {
            var d = s.RsDests[rs.Index];
            draining |= Excluded(new DestId(s.Spec.Key, d.Address, d.Port));
        }

        return new RealServerHealth(rs.Vs.Config.Id, rs.Config.Address, rs.Config.Port, rs.Alive, rs.Weight, draining, rs.Since, checks);
    }

    private static string Format(RealServer rs) => Format(rs.Address, rs.Port);

    private static string Format(IPAddress address, ushort port) =>
        address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]:{port}" : $"{address}:{port}";

    private static string Format(ServiceKey key) =>
        key.IsFwMark ? $"FWM {key.FwMark}" : $"{key.Protocol.ToString().ToUpperInvariant()} {Format(key.Address, key.Port)}";

    private readonly record struct DestId(ServiceKey Service, IPAddress Address, ushort Port);

    private sealed class VsState(VirtualServer config)
    {
        public VirtualServer Config { get; } = config;

        public List<(ServiceSpec Spec, DestSpec[] RsDests, DestSpec? Sorry)> Services { get; } = [];

        public List<RsState> Real { get; } = [];

        public bool QuorumUp { get; set; }

        public bool QuorumKnown { get; set; }

        public bool Manages(DestId id)
        {
            foreach (var s in Services)
            {
                if (s.Spec.Key != id.Service)
                {
                    continue;
                }

                foreach (var d in s.RsDests)
                {
                    if (d.Port == id.Port && d.Address.Equals(id.Address))
                    {
                        return true;
                    }
                }
            }

            return false;
        }
    }

    private sealed class RsState(VsState vs, RealServer config, int index)
    {
        public VsState Vs { get; } = vs;

        public RealServer Config { get; } = config;

        public int Index { get; } = index;

        public List<CheckScheduler> Checks { get; } = [];

        public bool Alive { get; set; }

        public int Weight { get; set; }

        public DateTimeOffset Since { get; set; }

        public bool Retired { get; set; }
    }
}
