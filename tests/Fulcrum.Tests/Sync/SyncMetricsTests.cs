using Fulcrum.Balancing;
using Fulcrum.Metrics;
using Fulcrum.Sync;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Fulcrum.Tests.Sync;

public sealed class SyncMetricsTests
{
    [Fact]
    public void Write_NoDaemonNothingReceived_CountersAtZeroAndNoLag()
    {
        using var sync = new SyncService(new IpvsTable(new FakeTimeProvider(), 1, 16), TimeProvider.System, NullLogger<SyncService>.Instance);
        var w = new MetricsWriter();

        new SyncMetrics(sync).Write(w);

        string page = w.ToString();
        Assert.Contains("# TYPE fulcrum_sync_messages_total counter\n", page, StringComparison.Ordinal);
        Assert.Contains("fulcrum_sync_messages_total{direction=\"sent\"} 0\n", page, StringComparison.Ordinal);
        Assert.Contains("fulcrum_sync_dropped_total{reason=\"queue_full\"} 0\n", page, StringComparison.Ordinal);
        Assert.DoesNotContain("fulcrum_sync_daemon_up{", page, StringComparison.Ordinal);
        // No message yet: no lag sample rather than a misleading 0.
        Assert.DoesNotContain("fulcrum_sync_lag_seconds", page, StringComparison.Ordinal);
    }
}
