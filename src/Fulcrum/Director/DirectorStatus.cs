using System.Text;
using Fulcrum.Balancing;
using Fulcrum.Packets;

namespace Fulcrum.Director;

/// <summary>
/// What `fulcrum status` shows: the data plane's own counters (frames forwarded, drops by reason,
/// checksums completed, ring statistics) beside the virtual services. ipvsadm shows only the
/// services; an operator chasing lost packets needs the drops too.
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

    public string Render(bool json)
    {
        long forwarded = 0, completed = 0, rx = 0, tx = 0, kernelDrops = 0;
        var drops = new long[(int)DropReason.Count];
        foreach (var worker in _dataPlane?.Workers ?? [])
        {
            forwarded += worker.Forwarded;
            completed += worker.ChecksumsCompleted;
            var ring = worker.Ring.ReadCounters();
            rx += ring.RxFrames;
            tx += ring.TxFrames;
            kernelDrops += ring.KernelDrops;
            for (int r = 1; r < drops.Length; r++)
            {
                drops[r] += worker.Drops((DropReason)r);
            }
        }

        var services = _table.GetServices();
        var sb = new StringBuilder();
        if (json)
        {
            sb.Append("{\"interface\":\"").Append(_options.Interface).Append("\",");
            sb.Append("\"rx_frames\":").Append(rx).Append(',');
            sb.Append("\"tx_frames\":").Append(tx).Append(',');
            sb.Append("\"rx_ring_kernel_drops\":").Append(kernelDrops).Append(',');
            sb.Append("\"forwarded\":").Append(forwarded).Append(',');
            sb.Append("\"checksums_completed\":").Append(completed).Append(',');
            sb.Append("\"drops\":{");
            for (int r = 1; r < drops.Length; r++)
            {
                sb.Append(r > 1 ? "," : "").Append('"').Append(((DropReason)r).ToString()).Append("\":").Append(drops[r]);
            }

            sb.Append("},\"services\":").Append(services.Count);
            sb.Append(",\"sync\":");
            Sync.SyncStatusText.AppendJson(sb, _sync.GetStatus());
            sb.Append("}\n");
            return sb.ToString();
        }

        sb.Append("Interface: ").Append(_options.Interface).Append('\n');
        sb.Append("Frames received: ").Append(rx).Append(", sent: ").Append(tx)
          .Append(", dropped by the kernel (RX ring full): ").Append(kernelDrops).Append('\n');
        sb.Append("Forwarded frames: ").Append(forwarded).Append('\n');
        sb.Append("Checksums completed: ").Append(completed).Append('\n');
        sb.Append("Drops:\n");
        for (int r = 1; r < drops.Length; r++)
        {
            sb.Append("  ").Append(((DropReason)r).ToString().PadRight(14)).Append(' ').Append(drops[r]).Append('\n');
        }

        sb.Append("Virtual services:\n");
        foreach (var service in services)
        {
            var key = service.Spec.Key;
            sb.Append("  ").Append(key.Protocol.ToString().ToUpperInvariant()).Append(' ')
              .Append(key.Address).Append(':').Append(key.Port).Append(' ').Append(service.Spec.Scheduler)
              .Append(" conns=").Append(service.Stats.Conns).Append('\n');
            foreach (var dest in service.Dests)
            {
                sb.Append("    -> ").Append(dest.Spec.Address).Append(':').Append(dest.Spec.Port)
                  .Append(" weight=").Append(dest.Spec.Weight)
                  .Append(" active=").Append(dest.ActiveConns)
                  .Append(" inactive=").Append(dest.InactiveConns).Append('\n');
            }
        }

        if (_config.Vrrp is { } vrrp)
        {
            Vrrp.VrrpStatusText.Append(sb, vrrp.Instances);
        }

        Sync.SyncStatusText.Append(sb, _sync.GetStatus());

        var health = _config.Health?.GetRealServers();
        if (health is { Count: > 0 })
        {
            sb.Append("Health checks:\n");
            foreach (var rs in health)
            {
                sb.Append("  ").Append(rs.VirtualServer).Append(" -> ").Append(rs.Address).Append(':').Append(rs.Port)
                  .Append(rs.IsUp ? " UP" : " DOWN").Append(" since ").Append(rs.Since.ToString("u"))
                  .Append(rs.Draining ? " draining" : "");
                foreach (var c in rs.Checkers)
                {
                    sb.Append(' ').Append(c.Kind).Append(c.IsUp ? "=ok" : "=failed");
                    if (!c.IsUp && c.LastFailure is not null)
                    {
                        sb.Append(" (").Append(c.LastFailure).Append(')');
                    }
                }

                sb.Append('\n');
            }
        }

        return sb.ToString();
    }
}
