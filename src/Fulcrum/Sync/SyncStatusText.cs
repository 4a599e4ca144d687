using System.Globalization;
using System.Text;
using Fulcrum.Balancing;

namespace Fulcrum.Sync;

/// <summary>The connection-sync section of `fulcrum status` (text and --json).</summary>
public static class SyncStatusText
{
    public static void Append(StringBuilder sb, SyncStatus s)
    {
        ArgumentNullException.ThrowIfNull(sb);
        ArgumentNullException.ThrowIfNull(s);
        var inv = CultureInfo.InvariantCulture;
        sb.Append("Connection sync:\n");
        if (s.Daemons.Count == 0)
            sb.Append("  no sync daemon running\n");
        foreach (var d in s.Daemons)
        {
            sb.Append("  ").Append(d.State == SyncDaemonState.Master ? "MASTER" : "BACKUP")
              .Append(inv, $" on {d.Interface} syncid={d.SyncId} group={d.Group}:{d.Port} ttl={d.Ttl} maxlen={d.MaxLength}");
            if (d.Peers.Count > 0)
                sb.Append(" peers=").AppendJoin(',', d.Peers);
            if (!d.AuthKey.IsEmpty)
                sb.Append(" hmac");
            sb.Append('\n');
        }
        sb.Append(inv, $"  sent: {s.SentMessages} messages, {s.SentRecords} records, {s.SentBytes} bytes, {s.SendErrors} send errors, {s.QueueDrops} queue drops\n");
        sb.Append(inv, $"  received: {s.ReceivedMessages} messages, {s.ReceivedRecords} records, {s.ReceivedBytes} bytes; dropped: {s.MalformedMessages} malformed, {s.AuthFailures} unauthenticated, {s.OtherSyncId} other syncid, {s.SkippedRecords} records skipped, {s.InstallDrops} table full\n");
        sb.Append(inv, $"  resync: {s.ResyncRequestsSent} requested, {s.ResyncRequestsServed} served; imported connections held: {s.ImportedConnections}\n");
        sb.Append("  last received: ")
          .Append(s.LastReceivedAge is { } age ? age.TotalSeconds.ToString("0.000", inv) + " s ago" : "never").Append('\n');
    }

    public static void AppendJson(StringBuilder sb, SyncStatus s)
    {
        ArgumentNullException.ThrowIfNull(sb);
        ArgumentNullException.ThrowIfNull(s);
        var inv = CultureInfo.InvariantCulture;
        sb.Append("{\"daemons\":[");
        for (int i = 0; i < s.Daemons.Count; i++)
        {
            var d = s.Daemons[i];
            sb.Append(i > 0 ? "," : "")
              .Append(inv, $"{{\"state\":\"{(d.State == SyncDaemonState.Master ? "master" : "backup")}\",\"interface\":\"{d.Interface}\",\"syncid\":{d.SyncId},\"group\":\"{d.Group}\",\"port\":{d.Port},\"ttl\":{d.Ttl},\"maxlen\":{d.MaxLength},\"peers\":{d.Peers.Count},\"hmac\":{(d.AuthKey.IsEmpty ? "false" : "true")}}}");
        }
        sb.Append(inv, $"],\"sent_messages\":{s.SentMessages},\"sent_records\":{s.SentRecords},\"sent_bytes\":{s.SentBytes},\"send_errors\":{s.SendErrors},\"queue_drops\":{s.QueueDrops}");
        sb.Append(inv, $",\"received_messages\":{s.ReceivedMessages},\"received_records\":{s.ReceivedRecords},\"received_bytes\":{s.ReceivedBytes}");
        sb.Append(inv, $",\"malformed_messages\":{s.MalformedMessages},\"auth_failures\":{s.AuthFailures},\"other_syncid\":{s.OtherSyncId},\"skipped_records\":{s.SkippedRecords},\"install_drops\":{s.InstallDrops}");
        sb.Append(inv, $",\"resync_requests_sent\":{s.ResyncRequestsSent},\"resync_requests_served\":{s.ResyncRequestsServed},\"imported_connections\":{s.ImportedConnections}");
        sb.Append(",\"last_received_age_seconds\":")
          .Append(s.LastReceivedAge is { } age ? age.TotalSeconds.ToString("0.000", inv) : "null").Append('}');
    }
}
