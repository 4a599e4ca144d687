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
    private DataPlaneService? _dataPlane;

    public DirectorStatus(DirectorOptions options, IpvsTable table, ConfigService config)
    {
        _options = options;
        _table = table;
        _config = config;
    }

    public void Attach(DataPlaneService dataPlane) => _dataPlane = dataPlane;

    public string Render(bool json)
    {
        long forwarded = 0, completed = 0, rx = 0, tx = 0, kernelDrops = 0, droppedEntries = 0;
        var drops = new long[(int)DropReason.Count];
        var workers = _dataPlane?.Workers ?? [];
        var perWorker = new (long Rx, long Forwarded, long Drops, int Connections, int Capacity)[workers.Count];
        for (int w = 0; w < workers.Count; w++)
        {
            var worker = workers[w];
            long workerForwarded = worker.Forwarded;
            forwarded += workerForwarded;
            completed += worker.ChecksumsCompleted;
            droppedEntries += worker.DroppedEntries;
            var ring = worker.Ring.ReadCounters();
            rx += ring.RxFrames;
            tx += ring.TxFrames;
            kernelDrops += ring.KernelDrops;
            long workerDrops = 0;
            for (int r = 1; r < drops.Length; r++)
            {
                long d = worker.Drops((DropReason)r);
                drops[r] += d;
                workerDrops += d;
            }

            perWorker[w] = (ring.RxFrames, workerForwarded, workerDrops, worker.Connections, worker.Capacity);
        }

        var defense = _table.Defense;

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

            sb.Append("},\"workers\":[");
            for (int w = 0; w < perWorker.Length; w++)
            {
                var pw = perWorker[w];
                sb.Append(w > 0 ? "," : "").Append("{\"rx_frames\":").Append(pw.Rx).Append(",\"forwarded\":").Append(pw.Forwarded)
                  .Append(",\"drops\":").Append(pw.Drops).Append(",\"connections\":").Append(pw.Connections)
                  .Append(",\"capacity\":").Append(pw.Capacity).Append('}');
            }

            sb.Append("],\"defense\":{\"available\":").Append(defense.Available).Append(",\"capacity\":").Append(defense.Capacity)
              .Append(",\"amemthresh\":").Append(defense.AmemThresh).Append(",\"drop_entry\":").Append(defense.DropEntryMode)
              .Append(",\"drop_packet\":").Append(defense.DropPacketMode).Append(",\"drop_rate\":").Append(defense.DropRate)
              .Append(",\"secure_tcp\":").Append(defense.SecureTcpMode).Append(",\"secure_tcp_active\":").Append(defense.SecureTcpActive ? "true" : "false")
              .Append(",\"dropped_entries\":").Append(droppedEntries).Append('}');
            sb.Append(",\"services\":").Append(services.Count).Append("}\n");
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

        sb.Append("Workers: ").Append(perWorker.Length).Append('\n');
        for (int w = 0; w < perWorker.Length; w++)
        {
            var pw = perWorker[w];
            sb.Append("  worker ").Append(w).Append(": received ").Append(pw.Rx).Append(", forwarded ").Append(pw.Forwarded)
              .Append(", dropped ").Append(pw.Drops).Append(", connections ").Append(pw.Connections).Append('/').Append(pw.Capacity).Append('\n');
        }

        sb.Append("Defense: ").Append(defense.Available).Append(" of ").Append(defense.Capacity)
          .Append(" connection entries free (amemthresh ").Append(defense.AmemThresh).Append("); drop_entry=").Append(defense.DropEntryMode)
          .Append(" (entries dropped ").Append(droppedEntries).Append("), drop_packet=").Append(defense.DropPacketMode)
          .Append(" (rate ").Append(defense.DropRate == 0 ? "off" : "1/" + defense.DropRate.ToString(System.Globalization.CultureInfo.InvariantCulture))
          .Append("), secure_tcp=").Append(defense.SecureTcpMode).Append(defense.SecureTcpActive ? " (dos table)" : "").Append('\n');
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
