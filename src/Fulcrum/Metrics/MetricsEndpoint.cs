using System.Net;

namespace Fulcrum.Metrics;

/// <summary>Where `fulcrum run` serves metrics: `--metrics ADDR:PORT`, or `--metrics off`.</summary>
public static class MetricsEndpoint
{
    /// <summary>
    /// 9138: the Prometheus wiki's "Default port allocations" (9100-9999, long fully allocated) gives it
    /// to the Heka exporter, for a log router retired in 2016, so nothing common on a director holds it
    /// and node_exporter (9100) can run beside the director.
    /// </summary>
    public const int DefaultPort = 9138;

    /// <summary>Loopback only by default, as node_exporter is usually fronted: exposing it is the operator's choice.</summary>
    public static IPEndPoint Default { get; } = new(IPAddress.Loopback, DefaultPort);

    /// <summary>
    /// Parses "ADDR:PORT" ("127.0.0.1:9138", "[::1]:9138", "0.0.0.0:9138") or "off" (endpoint null).
    /// A port is required: an address alone is refused rather than guessed.
    /// </summary>
    public static bool TryParse(string? text, out IPEndPoint? endpoint)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        if (text.Equals("off", StringComparison.OrdinalIgnoreCase))
            return true;
        int colon = text.LastIndexOf(':');
        int bracket = text.LastIndexOf(']');
        if (colon < 0 || colon < bracket || colon == text.Length - 1)
            return false;
        if (!IPEndPoint.TryParse(text, out var parsed) || parsed.Port == 0)
            return false;
        endpoint = parsed;
        return true;
    }
}
