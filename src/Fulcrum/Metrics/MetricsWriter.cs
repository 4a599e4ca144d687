using System.Globalization;
using System.Text;

namespace Fulcrum.Metrics;

/// <summary>The TYPE of a metric family in the text exposition format.</summary>
public enum MetricType
{
    Counter,
    Gauge,
    Untyped,
}

/// <summary>
/// Writes the Prometheus text exposition format, version 0.0.4: per family one HELP and one TYPE line,
/// then its samples, every family exactly once. Samples are written as they are read at scrape time
/// (node_exporter's "const metrics"): the label sets follow the running table, so a deleted service
/// simply stops appearing. Written by hand rather than with prometheus-net, whose metrics are
/// long-lived objects whose label children must be created and removed as services come and go,
/// and whose default registry and listeners bring in more than a daemon compiled with Native AOT needs.
/// </summary>
public sealed class MetricsWriter
{
    /// <summary>The Content-Type of a page this writer produces.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _sb;
    private readonly HashSet<string> _families = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private string? _current;

    public MetricsWriter(StringBuilder? sb = null) => _sb = sb ?? new StringBuilder(4096);

    /// <summary>The families written so far, in order.</summary>
    public IReadOnlyList<string> Families => _order;

    /// <summary>
    /// Starts a family: writes its HELP and TYPE lines. Each name may start only once per page (the
    /// format requires a family's samples to be contiguous); a second start throws.
    /// </summary>
    public void Family(string name, string help, MetricType type)
    {
        ArgumentNullException.ThrowIfNull(help);
        if (!IsMetricName(name))
            throw new ArgumentException($"'{name}' is not a valid metric name", nameof(name));
        if (!_families.Add(name))
            throw new InvalidOperationException($"metric family '{name}' was already written on this page");
        _order.Add(name);
        _current = name;
        _sb.Append("# HELP ").Append(name).Append(' ');
        AppendEscaped(_sb, help, escapeQuotes: false);
        _sb.Append("\n# TYPE ").Append(name).Append(' ').Append(type switch
        {
            MetricType.Counter => "counter",
            MetricType.Gauge => "gauge",
            _ => "untyped",
        }).Append('\n');
    }

    /// <summary>A sample of the current family; <paramref name="labels"/> alternate name and value.</summary>
    public void Sample(long value, params ReadOnlySpan<string> labels)
    {
        BeginSample(labels);
        _sb.Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    /// <summary>A sample of the current family; <paramref name="labels"/> alternate name and value.</summary>
    public void Sample(ulong value, params ReadOnlySpan<string> labels)
    {
        BeginSample(labels);
        _sb.Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    /// <summary>A sample of the current family; <paramref name="labels"/> alternate name and value.</summary>
    public void Sample(double value, params ReadOnlySpan<string> labels)
    {
        BeginSample(labels);
        _sb.Append(FormatDouble(value)).Append('\n');
    }

    /// <summary>A sample of the current family with a label set built once (<see cref="MetricLabels.Of"/>) for many families.</summary>
    public void Sample(long value, MetricLabels labels)
    {
        BeginSample(labels);
        _sb.Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    /// <inheritdoc cref="Sample(long, MetricLabels)"/>
    public void Sample(ulong value, MetricLabels labels)
    {
        BeginSample(labels);
        _sb.Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    /// <inheritdoc cref="Sample(long, MetricLabels)"/>
    public void Sample(double value, MetricLabels labels)
    {
        BeginSample(labels);
        _sb.Append(FormatDouble(value)).Append('\n');
    }

    /// <summary>The page so far.</summary>
    public override string ToString() => _sb.ToString();

    /// <summary>A point to return to with <see cref="Rollback"/> when a source fails half-way.</summary>
    public (int Length, int Families) Mark() => (_sb.Length, _order.Count);

    /// <summary>Drops everything written after <paramref name="mark"/>, families included.</summary>
    public void Rollback((int Length, int Families) mark)
    {
        _sb.Length = mark.Length;
        for (int i = _order.Count - 1; i >= mark.Families; i--)
        {
            _families.Remove(_order[i]);
            _order.RemoveAt(i);
        }

        _current = _order.Count > 0 ? _order[^1] : null;
    }

    /// <summary>The shortest round-trip spelling (Prometheus reads it with Go's ParseFloat), and the format's NaN, +Inf, -Inf.</summary>
    internal static string FormatDouble(double value)
    {
        if (double.IsNaN(value))
            return "NaN";
        if (double.IsPositiveInfinity(value))
            return "+Inf";
        if (double.IsNegativeInfinity(value))
            return "-Inf";
        return value.ToString("R", CultureInfo.InvariantCulture);
    }

    private void BeginSample(ReadOnlySpan<string> labels)
    {
        if (_current is null)
            throw new InvalidOperationException("a sample needs a family first");
        _sb.Append(_current);
        AppendLabels(_sb, labels);
        _sb.Append(' ');
    }

    private void BeginSample(MetricLabels labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (_current is null)
            throw new InvalidOperationException("a sample needs a family first");
        _sb.Append(_current).Append(labels.Text).Append(' ');
    }

    /// <summary>"{name="value",...}" (nothing for no labels), names checked and values escaped.</summary>
    internal static void AppendLabels(StringBuilder sb, ReadOnlySpan<string> labels)
    {
        if ((labels.Length & 1) != 0)
            throw new ArgumentException("labels must alternate name and value", nameof(labels));
        if (labels.Length == 0)
            return;
        sb.Append('{');
        for (int i = 0; i < labels.Length; i += 2)
        {
            if (!IsLabelName(labels[i]))
                throw new ArgumentException($"'{labels[i]}' is not a valid label name", nameof(labels));
            if (i > 0)
                sb.Append(',');
            sb.Append(labels[i]).Append("=\"");
            AppendEscaped(sb, labels[i + 1] ?? "", escapeQuotes: true);
            sb.Append('"');
        }

        sb.Append('}');
    }

    // The format's escapes: in HELP text backslash and line feed; in label values also the double quote.
    private static void AppendEscaped(StringBuilder sb, string text, bool escapeQuotes)
    {
        if (text.AsSpan().IndexOfAny(escapeQuotes ? "\\\n\"" : "\\\n") < 0)
        {
            sb.Append(text);
            return;
        }

        foreach (char c in text)
        {
            switch (c)
            {
                case '\\':
                    sb.Append(@"\\");
                    break;
                case '\n':
                    sb.Append(@"\n");
                    break;
                case '"' when escapeQuotes:
                    sb.Append("\\\"");
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }
    }

    /// <summary>[a-zA-Z_:][a-zA-Z0-9_:]*</summary>
    internal static bool IsMetricName(string? name)
    {
        if (string.IsNullOrEmpty(name))
            return false;
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool ok = char.IsAsciiLetter(c) || c == '_' || c == ':' || (i > 0 && char.IsAsciiDigit(c));
            if (!ok)
                return false;
        }

        return true;
    }

    /// <summary>[a-zA-Z_][a-zA-Z0-9_]*, and not the reserved "__" prefix.</summary>
    internal static bool IsLabelName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.StartsWith("__", StringComparison.Ordinal))
            return false;
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool ok = char.IsAsciiLetter(c) || c == '_' || (i > 0 && char.IsAsciiDigit(c));
            if (!ok)
                return false;
        }

        return true;
    }
}

/// <summary>
/// A label set rendered once ("{a="b",...}") and written with many families: a real server's six
/// node_exporter labels appear in a dozen families, and a page of ten thousand real servers is built
/// per scrape.
/// </summary>
public sealed class MetricLabels
{
    private MetricLabels(string text) => Text = text;

    internal string Text { get; }

    /// <summary>Labels alternating name and value, in the order they are written.</summary>
    public static MetricLabels Of(params ReadOnlySpan<string> labels)
    {
        var sb = new StringBuilder(labels.Length * 16);
        MetricsWriter.AppendLabels(sb, labels);
        return new MetricLabels(sb.ToString());
    }
}
