namespace Fulcrum.Sync;

/// <summary>
/// Connection sync counters and state, for `fulcrum status` and the metrics exporter. A snapshot:
/// counters only grow while the process runs.
/// </summary>
public sealed record SyncStatus
{
    /// <summary>The running daemons with their effective settings (MASTER first).</summary>
    public required IReadOnlyList<Balancing.SyncDaemonConfig> Daemons { get; init; }

    public long SentMessages { get; init; }
    public long SentRecords { get; init; }
    public long SentBytes { get; init; }
    /// <summary>Sends the kernel refused (no buffer, no route); the message is lost, like one lost on the wire.</summary>
    public long SendErrors { get; init; }
    /// <summary>Connection changes dropped because a worker's queue was full (the rate bound or a storm).</summary>
    public long QueueDrops { get; init; }

    public long ReceivedMessages { get; init; }
    public long ReceivedRecords { get; init; }
    public long ReceivedBytes { get; init; }
    /// <summary>Messages dropped whole: too short, size mismatch, version 0, malformed records.</summary>
    public long MalformedMessages { get; init; }
    /// <summary>Records skipped alone (unsupported protocol or state, persistence-engine data).</summary>
    public long SkippedRecords { get; init; }
    /// <summary>Messages for another syncid.</summary>
    public long OtherSyncId { get; init; }
    /// <summary>Messages without a valid HMAC trailer while authentication is on.</summary>
    public long AuthFailures { get; init; }
    /// <summary>Records not installed because the imported table was full.</summary>
    public long InstallDrops { get; init; }

    public long ResyncRequestsSent { get; init; }
    public long ResyncRequestsServed { get; init; }

    /// <summary>Synced connections held for a takeover, not yet taken over by a worker.</summary>
    public int ImportedConnections { get; init; }

    /// <summary>Time since the last sync message was received ("sync lag"); null when none has been.</summary>
    public TimeSpan? LastReceivedAge { get; init; }
}
