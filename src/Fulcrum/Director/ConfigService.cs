using System.Runtime.InteropServices;
using Fulcrum.Balancing;
using Fulcrum.Config;
using Fulcrum.Health;
using Fulcrum.Vrrp;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Director;

/// <summary>
/// Loads keepalived.conf's virtual servers into the running table at start and re-applies the file
/// on SIGHUP, as keepalived does. A reload applies only the difference (edits in place, never
/// delete-and-re-add), so established connections keep their real servers; a file with errors
/// leaves the running configuration in force and says why (file:line:column). Services added by
/// hand with `fulcrum adm` are not the file's, and a reload leaves them alone.
/// Real servers are the <see cref="HealthMonitor"/>'s: it puts each in the table as its checks
/// say (a real server without checkers is always up); this service handles whole virtual services.
/// </summary>
internal sealed partial class ConfigService : IHostedService, IDisposable
{
    private readonly DirectorOptions _options;
    private readonly IpvsTable _table;
    private readonly ILogger<ConfigService> _logger;
    private readonly ILoggerFactory _loggers;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly Sync.SyncService _sync;
    private readonly Lock _gate = new();
    private IReadOnlyList<(ServiceSpec Service, IReadOnlyList<DestSpec> Dests)> _applied = [];
    private PosixSignalRegistration? _sighup;

    public ConfigService(DirectorOptions options, IpvsTable table, ILoggerFactory loggers, IHostApplicationLifetime lifetime, Sync.SyncService sync)
    {
        _sync = sync;
        // The host stops services in reverse order of start, so this one would stop last: a MASTER
        // must send its priority-0 advert the moment shutdown begins, so the BACKUP takes over
        // after its skew time only (RFC 3768 6.4.3), as keepalived does.
        lifetime.ApplicationStopping.Register(() => Vrrp?.StopAsync(CancellationToken.None).GetAwaiter().GetResult());
        _options = options;
        _table = table;
        _loggers = loggers;
        _lifetime = lifetime;
        _logger = loggers.CreateLogger<ConfigService>();
    }

    /// <summary>The VRRP instances of the configuration in force (null without -f or without vrrp_instance).</summary>
    public VrrpService? Vrrp { get; private set; }

    /// <summary>The health checks of the configuration in force (null without -f).</summary>
    public HealthMonitor? Health { get; private set; }

    /// <summary>The configuration in force (null before the first successful load, or without -f).</summary>
    public KeepalivedConfiguration? Current { get; private set; }

    /// <summary>Raised after a (re)load was applied, with the new configuration.</summary>
    public event Action<KeepalivedConfiguration>? Applied;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.ConfigFile is null)
        {
            return Task.CompletedTask;
        }

        // At start a broken file is fatal: there is no running configuration to fall back on.
        if (!Load(_options.ConfigFile, out var config))
        {
            throw new InvalidOperationException($"{_options.ConfigFile} has errors; not starting (see the log)");
        }

        Apply(config);
        if (config.VrrpInstances.Count > 0)
        {
            // VRRP runs on its own thread; a clean stop sends priority 0 so a backup takes over at once.
            // It starts only once every other service has (data plane open, claim rules in place, real
            // servers' MACs asked for): a restarted director that preempted while its ring was still
            // opening took the VIP and dropped the clients' traffic for 1.4 s (`fulcrum lab demo`).
            _lifetime.ApplicationStarted.Register(() =>
            {
                if (Vrrp is not null)
                {
                    return;
                }

                Vrrp = new VrrpService(config, TimeProvider.System, _loggers.CreateLogger<VrrpService>());
                Vrrp.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
            });
        }

        // lvs_sync_daemon: the sync daemon follows its VRRP instance, as keepalived's ipvs_syncd_master/backup.
        _sync.Follow(config.Global.LvsSyncDaemon, config, () => Vrrp?.Instances);

        _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            Reload();
        });
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _sighup?.Dispose();
        _sighup = null;
        if (Vrrp is not null)
        {
            await Vrrp.StopAsync(cancellationToken).ConfigureAwait(false);
            Vrrp.Dispose();
        }

        if (Health is not null)
        {
            await Health.StopAsync().ConfigureAwait(false);
        }
    }

    public void Dispose() => _sighup?.Dispose();

    /// <summary>Re-reads the file; applies it only if it has no errors.</summary>
    public bool Reload()
    {
        var path = _options.ConfigFile;
        if (path is null)
        {
            return false;
        }

        LogReloading(path);
        if (!Load(path, out var config))
        {
            LogReloadRejected(path);
            return false;
        }

        Apply(config);
        _sync.Follow(config.Global.LvsSyncDaemon, config, () => Vrrp?.Instances);
        if (Vrrp is not null)
        {
            // The difference only: an instance the new file keeps stays in its state with its VIPs.
            Vrrp.Reload(config);
        }
        else if (config.VrrpInstances.Count > 0)
        {
            Vrrp = new VrrpService(config, TimeProvider.System, _loggers.CreateLogger<VrrpService>());
            Vrrp.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        }

        return true;
    }

    private bool Load(string path, out KeepalivedConfiguration config)
    {
        var result = KeepalivedConfig.Load(path);
        foreach (var d in result.Diagnostics)
        {
            if (d.IsError)
            {
                LogConfigError(d.ToString());
            }
            else
            {
                LogConfigWarning(d.ToString());
            }
        }

        config = result.Configuration;
        return result.Success;
    }

    private void Apply(KeepalivedConfiguration config)
    {
        lock (_gate)
        {
            // Service-level differences (scheduler, persistence, flags; services gone from the file)
            // are applied here; which real servers are in the table, and at what weight, is up to the
            // health checks, so dest-level differences go through the monitor.
            var desired = KeepalivedIpvs.ToIpvs(config);
            var diff = IpvsDiff.Compute(_applied, desired);
            int failures = 0;
            foreach (var s in diff.ChangedServices)
            {
                failures += Check(_table.EditService(s), "edit service", s.Key);
            }

            foreach (var key in diff.RemovedServices)
            {
                failures += Check(_table.DeleteService(key), "remove service", key);
            }

            if (Health is null)
            {
                Health = new HealthMonitor(config, _table, _loggers.CreateLogger<HealthMonitor>());
                Health.Start();
            }
            else
            {
                Health.UpdateConfiguration(config);
            }

            _applied = desired;
            Current = config;
            LogApplied(desired.Count, diff.AddedServices.Count, diff.ChangedServices.Count, diff.RemovedServices.Count,
                diff.AddedDests.Count, diff.ChangedDests.Count, diff.RemovedDests.Count, failures);
        }

        Applied?.Invoke(config);
    }

    private int Check(int errno, string what, ServiceKey key)
    {
        if (errno == IpvsErrno.Ok)
        {
            return 0;
        }

        LogApplyFailed(what, key.ToString(), errno);
        return 1;
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Error, Message = "{Diagnostic}")]
    private partial void LogConfigError(string diagnostic);

    [LoggerMessage(EventId = 501, Level = LogLevel.Warning, Message = "{Diagnostic}")]
    private partial void LogConfigWarning(string diagnostic);

    [LoggerMessage(EventId = 502, Level = LogLevel.Information, Message = "SIGHUP: reloading {Path}")]
    private partial void LogReloading(string path);

    [LoggerMessage(EventId = 503, Level = LogLevel.Error, Message = "reload of {Path} rejected: it has errors; the running configuration stays in force")]
    private partial void LogReloadRejected(string path);

    [LoggerMessage(EventId = 504, Level = LogLevel.Information, Message = "configuration applied: {Services} virtual service(s); services +{Added} ~{Changed} -{Removed}, real servers +{DestsAdded} ~{DestsChanged} -{DestsRemoved}, {Failures} failure(s)")]
    private partial void LogApplied(int services, int added, int changed, int removed, int destsAdded, int destsChanged, int destsRemoved, int failures);

    [LoggerMessage(EventId = 505, Level = LogLevel.Error, Message = "cannot {What} {Service}: errno {Errno}")]
    private partial void LogApplyFailed(string what, string service, int errno);
}
