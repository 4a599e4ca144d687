using Fulcrum.Metrics;

namespace Fulcrum.Sync;

/// <summary>
/// The connection sync part of the metrics page (docs/metrics.md): which daemons run, what went out and
/// came in, what was dropped and why, and the backup's lag (time since the last message it received).
/// </summary>
internal sealed class SyncMetrics : IMetricsSource
{
    private readonly SyncService _sync;

    public SyncMetrics(SyncService sync) => _sync = sync;

    public void Write(MetricsWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var s = _sync.GetStatus();

        writer.Family("fulcrum_sync_daemon_up", "1 for each running sync daemon (ipvsadm --start-daemon, lvs_sync_daemon).", MetricType.Gauge);
        foreach (var d in s.Daemons)
        {
            writer.Sample(1L, "state", d.State == Balancing.SyncDaemonState.Master ? "master" : "backup",
                "interface", d.Interface, "syncid", d.SyncId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        writer.Family("fulcrum_sync_messages_total", "Sync messages by direction.", MetricType.Counter);
        writer.Sample(s.SentMessages, "direction", "sent");
        writer.Sample(s.ReceivedMessages, "direction", "received");
        writer.Family("fulcrum_sync_records_total", "Connection records by direction.", MetricType.Counter);
        writer.Sample(s.SentRecords, "direction", "sent");
        writer.Sample(s.ReceivedRecords, "direction", "received");
        writer.Family("fulcrum_sync_bytes_total", "Sync payload bytes by direction.", MetricType.Counter);
        writer.Sample(s.SentBytes, "direction", "sent");
        writer.Sample(s.ReceivedBytes, "direction", "received");

        writer.Family("fulcrum_sync_dropped_total", "Sync events or messages dropped, by reason.", MetricType.Counter);
        writer.Sample(s.QueueDrops, "reason", "queue_full");
        writer.Sample(s.SendErrors, "reason", "send_error");
        writer.Sample(s.MalformedMessages, "reason", "malformed");
        writer.Sample(s.SkippedRecords, "reason", "skipped_record");
        writer.Sample(s.OtherSyncId, "reason", "other_syncid");
        writer.Sample(s.AuthFailures, "reason", "auth_failure");
        writer.Sample(s.InstallDrops, "reason", "install");

        writer.Family("fulcrum_sync_imported_connections", "Synced connections held for a takeover, not yet taken over.", MetricType.Gauge);
        writer.Sample((long)s.ImportedConnections);

        // Absent until a message arrives, so "no sample" (not 0) means "never heard from a master".
        if (s.LastReceivedAge is { } age)
        {
            writer.Family("fulcrum_sync_lag_seconds", "Seconds since the last sync message was received.", MetricType.Gauge);
            writer.Sample(age.TotalSeconds);
        }
    }
}
