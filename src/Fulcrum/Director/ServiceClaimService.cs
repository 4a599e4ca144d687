using Fulcrum.Balancing;
using Fulcrum.Linux;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Director;

/// <summary>
/// Keeps the kernel's hands off virtual-service traffic. The director holds the VIP (as in the
/// LVS-DR seed), so without a rule its own TCP stack would answer clients' SYNs with RSTs. The
/// rules drop those packets at netdev ingress, after the AF_PACKET tap has copied them to us;
/// everything else (ARP for the VIP, SSH, VRRP) reaches the kernel untouched. Rules left by a
/// crashed daemon are removed at start; the set follows every service change.
/// </summary>
internal sealed partial class ServiceClaimService : IHostedService, IDisposable
{
    private readonly DirectorOptions _options;
    private readonly IpvsTable _table;
    private readonly ILogger<ServiceClaimService> _logger;
    private readonly Lock _gate = new();
    private readonly CoalescingTrigger _trigger;
    private ServiceClaimRules? _rules;
    private HashSet<(IpProtocol, System.Net.IPAddress, ushort)>? _installed;
    private IReadOnlyList<FwMarkRule>? _installedMarked;

    public ServiceClaimService(DirectorOptions options, IpvsTable table, ILogger<ServiceClaimService> logger)
    {
        _options = options;
        _table = table;
        _logger = logger;
        _trigger = new CoalescingTrigger(Reinstall, ex => LogInstallFailed(_options.Interface, ex.Message));
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _rules = new ServiceClaimRules();
        if (_rules.RemoveStale(_options.Interface))
        {
            LogStaleRemoved(_options.Interface);
        }

        // The first install is synchronous: no virtual-service packet may reach the kernel's stack.
        Reinstall();
        _table.Changed += _trigger.Fire;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _table.Changed -= _trigger.Fire;
        lock (_gate)
        {
            _rules?.Remove();
            _rules = null;
        }

        return Task.CompletedTask;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _rules?.Dispose();
            _rules = null;
        }
    }

    /// <summary>
    /// Brings the rules up to date now, on the caller's thread (a no-op when the claimed set is unchanged),
    /// so an `adm -A` answers only once the new service's packets are kept from the director's stack.
    /// </summary>
    public void ApplyNow() => Reinstall();

    private void Reinstall()
    {
        var claims = new HashSet<(IpProtocol, System.Net.IPAddress, ushort)>();
        // Read after the services: a change in between fires the trigger again.
        var marked = _table.Snapshot.ServedMarkRules;
        foreach (var service in _table.GetServices())
        {
            var key = service.Spec.Key;
            if (!key.IsFwMark)
            {
                claims.Add((key.Protocol, key.Address, key.Port));
            }
        }

        lock (_gate)
        {
            // Most changes (real servers, weights) leave the set of claimed services as it was.
            if (_rules is null || (_installed is not null && claims.SetEquals(_installed) && SameRules(marked, _installedMarked)))
            {
                return;
            }

            try
            {
                _rules.Install(_options.Interface, claims, marked);
                _installed = claims;
                _installedMarked = marked;
                LogInstalled(claims.Count, marked.Count, _options.Interface);
            }
            catch (Exception ex)
            {
                LogInstallFailed(_options.Interface, ex.Message);
            }
        }
    }

    private static bool SameRules(IReadOnlyList<FwMarkRule> a, IReadOnlyList<FwMarkRule>? b)
    {
        if (b is null || a.Count != b.Count)
        {
            return false;
        }

        for (int i = 0; i < a.Count; i++)
        {
            if (!ReferenceEquals(a[i], b[i]))
            {
                return false;
            }
        }

        return true;
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "removed stale kernel drop rules on {Interface} left by an earlier daemon")]
    private partial void LogStaleRemoved(string @interface);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "kernel drop rules claim {Count} virtual service(s) and {MarkRules} fwmark rule(s) on {Interface}")]
    private partial void LogInstalled(int count, int markRules, string @interface);

    [LoggerMessage(EventId = 302, Level = LogLevel.Error, Message = "installing kernel drop rules on {Interface} failed: {Reason}")]
    private partial void LogInstallFailed(string @interface, string reason);
}
