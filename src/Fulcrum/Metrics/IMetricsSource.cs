namespace Fulcrum.Metrics;

/// <summary>
/// A part of the metrics page. The director's HTTP endpoint calls every registered source on each
/// scrape, in registration order, on a thread-pool thread: a source reads its counters as they are
/// (racily, like the ipvsadm listing; never a lock the data plane takes) and writes its families.
/// Register one with <c>services.AddSingleton&lt;IMetricsSource, MySource&gt;()</c>. A source that
/// throws is left out of that page (what it wrote is rolled back) and the failure is logged.
/// Family names must be unique across sources: prefix them (fulcrum_sync_*, ...).
/// </summary>
public interface IMetricsSource
{
    void Write(MetricsWriter writer);
}
