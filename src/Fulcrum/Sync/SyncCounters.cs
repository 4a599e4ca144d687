namespace Fulcrum.Sync;

/// <summary>The sync threads' counters (each written by one thread, read by status).</summary>
internal sealed class SyncCounters
{
    public long SentMessages;
    public long SentRecords;
    public long SentBytes;
    public long SendErrors;
    public long ReceivedMessages;
    public long ReceivedRecords;
    public long ReceivedBytes;
    public long MalformedMessages;
    public long SkippedRecords;
    public long OtherSyncId;
    public long AuthFailures;
    public long InstallDrops;
    public long ResyncRequestsSent;
    public long ResyncRequestsServed;
    /// <summary>TimeProvider timestamp of the last received message; 0 before the first.</summary>
    public long LastReceivedTimestamp;

    public static void Add(ref long counter, long value) => Interlocked.Add(ref counter, value);
}
