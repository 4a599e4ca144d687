using Fulcrum.Balancing;

namespace Fulcrum.Director;

/// <summary>
/// What `fulcrum status` shows: the data plane's own counters (frames forwarded, drops by reason,
/// checksums completed, ring statistics, connection table fill) beside the virtual services with their
/// rates, the real servers' health and the VRRP instances. ipvsadm shows only the services; an operator
/// chasing lost packets or a failover needs the rest too.
/// </summary>
internal sealed class DirectorStatus
{
    private readonly DirectorOptions _options;
    private readonly IpvsTable _table;
    private readonly ConfigService _config;
    private readonly Sync.SyncService _sync;
    private DataPlaneService? _dataPlane;

    public DirectorStatus(DirectorOptions options, IpvsTable table, ConfigService config, Sync.SyncService sync)
    {
        _sync = sync;
        _options = options;
        _table = table;
        _config = config;
    }

    public void Attach(DataPlaneService dataPlane) => _dataPlane = dataPlane;

    /// <summary>Reads everything once (no lock the data plane takes).</summary>
    public StatusReport Collect() => new(
        _options.Interface,
        WorkerCounters.ReadAll(_dataPlane),
        _table.GetServices(),
        _config.Vrrp?.Instances ?? [],
        _config.Health?.GetRealServers() ?? [],
        _config.Health?.GetVirtualServers() ?? [],
        _table.Defense,
        _sync.GetStatus(),
        _dataPlane?.DataPath);

    public string Render(bool json)
    {
        var report = Collect();
        return json ? StatusRenderer.Json(report) : StatusRenderer.Text(report);
    }
}
