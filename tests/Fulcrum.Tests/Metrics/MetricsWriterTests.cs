using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Metrics;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fulcrum.Tests.Metrics;

public class MetricsWriterTests
{
    [Fact]
    public void Family_WritesHelpThenTypeThenSamples()
    {
        var w = new MetricsWriter();
        w.Family("node_ipvs_connections_total", "The total number of connections made.", MetricType.Counter);
        w.Sample(42L);
        w.Family("x_gauge", "A gauge.", MetricType.Gauge);
        w.Sample(-1L, "a", "b");

        Assert.Equal(
            "# HELP node_ipvs_connections_total The total number of connections made.\n" +
            "# TYPE node_ipvs_connections_total counter\n" +
            "node_ipvs_connections_total 42\n" +
            "# HELP x_gauge A gauge.\n" +
            "# TYPE x_gauge gauge\n" +
            "x_gauge{a=\"b\"} -1\n",
            w.ToString());
        Assert.Equal(["node_ipvs_connections_total", "x_gauge"], w.Families);
    }

    [Fact]
    public void Sample_LabelValueWithQuoteBackslashAndNewline_IsEscaped()
    {
        var w = new MetricsWriter();
        w.Family("m", "h", MetricType.Gauge);
        w.Sample(1L, "instance", "a\"b\\c\nd", "empty", "");

        Assert.EndsWith("m{instance=\"a\\\"b\\\\c\\nd\",empty=\"\"} 1\n", w.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Family_HelpWithBackslashAndNewline_EscapesThoseButNotQuotes()
    {
        var w = new MetricsWriter();
        w.Family("m", "say \"hi\" C:\\ 1\n2", MetricType.Untyped);

        Assert.StartsWith("# HELP m say \"hi\" C:\\\\ 1\\n2\n# TYPE m untyped\n", w.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Family_SameNameTwice_Throws()
    {
        var w = new MetricsWriter();
        w.Family("m", "h", MetricType.Gauge);
        w.Family("n", "h", MetricType.Gauge);

        Assert.Throws<InvalidOperationException>(() => w.Family("m", "h", MetricType.Gauge));
    }

    [Theory]
    [InlineData("")]
    [InlineData("1abc")]
    [InlineData("a-b")]
    [InlineData("a b")]
    public void Family_InvalidName_Throws(string name) =>
        Assert.Throws<ArgumentException>(() => new MetricsWriter().Family(name, "h", MetricType.Gauge));

    [Theory]
    [InlineData("__reserved")]
    [InlineData("9a")]
    [InlineData("a:b")]
    [InlineData("")]
    public void Sample_InvalidLabelName_Throws(string label)
    {
        var w = new MetricsWriter();
        w.Family("m", "h", MetricType.Gauge);
        Assert.Throws<ArgumentException>(() => w.Sample(1L, label, "v"));
    }

    [Fact]
    public void Sample_PrebuiltLabels_WritesTheSameLineAsInlineLabels()
    {
        var set = MetricLabels.Of("a", "x\"y", "b", "");
        var inline = new MetricsWriter();
        inline.Family("m", "h", MetricType.Gauge);
        inline.Sample(3L, "a", "x\"y", "b", "");
        var prebuilt = new MetricsWriter();
        prebuilt.Family("m", "h", MetricType.Gauge);
        prebuilt.Sample(3L, set);

        Assert.Equal(inline.ToString(), prebuilt.ToString());
        Assert.EndsWith("m{a=\"x\\\"y\",b=\"\"} 3\n", prebuilt.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void LabelsOf_InvalidName_Throws() => Assert.Throws<ArgumentException>(() => MetricLabels.Of("__name__", "x"));

    [Fact]
    public void Sample_OddLabelList_Throws()
    {
        var w = new MetricsWriter();
        w.Family("m", "h", MetricType.Gauge);
        Assert.Throws<ArgumentException>(() => w.Sample(1L, "a"));
    }

    [Fact]
    public void Sample_BeforeAnyFamily_Throws() =>
        Assert.Throws<InvalidOperationException>(() => new MetricsWriter().Sample(1L));

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(0.5, "0.5")]
    [InlineData(1764165600.25, "1764165600.25")]
    public void Sample_Double_UsesTheFormatsSpelling(double value, string text)
    {
        var w = new MetricsWriter();
        w.Family("m", "h", MetricType.Gauge);
        w.Sample(value);
        Assert.EndsWith("m " + text + "\n", w.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Sample_UlongAboveLongMax_IsWrittenExactly()
    {
        var w = new MetricsWriter();
        w.Family("m", "h", MetricType.Counter);
        w.Sample(ulong.MaxValue);
        Assert.EndsWith("m 18446744073709551615\n", w.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Rollback_DropsTextAndFamiliesWrittenAfterTheMark()
    {
        var w = new MetricsWriter();
        w.Family("kept", "h", MetricType.Gauge);
        w.Sample(1L);
        var mark = w.Mark();
        w.Family("dropped", "h", MetricType.Gauge);
        w.Sample(2L);

        w.Rollback(mark);
        w.Family("dropped", "h again", MetricType.Gauge);

        Assert.Equal("# HELP kept h\n# TYPE kept gauge\nkept 1\n# HELP dropped h again\n# TYPE dropped gauge\n", w.ToString());
    }

    [Theory]
    [InlineData("127.0.0.1:9138", "127.0.0.1:9138")]
    [InlineData("0.0.0.0:9200", "0.0.0.0:9200")]
    [InlineData("[::1]:9138", "[::1]:9138")]
    public void TryParse_AddressAndPort_GivesTheEndpoint(string text, string expected)
    {
        Assert.True(MetricsEndpoint.TryParse(text, out var endpoint));
        Assert.Equal(expected, endpoint!.ToString());
    }

    [Fact]
    public void TryParse_Off_GivesNoEndpoint()
    {
        Assert.True(MetricsEndpoint.TryParse("off", out var endpoint));
        Assert.Null(endpoint);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:")]
    [InlineData("127.0.0.1:0")]
    [InlineData("::1")]
    [InlineData("localhost:9138")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("")]
    public void TryParse_Malformed_Fails(string text) => Assert.False(MetricsEndpoint.TryParse(text, out _));

    [Fact]
    public void Default_IsLoopbackOn9138() => Assert.Equal("127.0.0.1:9138", MetricsEndpoint.Default.ToString());

    [Theory]
    [InlineData("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "200 OK")]
    [InlineData("GET /metrics?x=1 HTTP/1.0\r\n\r\n", "200 OK")]
    [InlineData("HEAD /metrics HTTP/1.1\r\n\r\n", "200 OK")]
    [InlineData("POST /metrics HTTP/1.1\r\n\r\n", "405 Method Not Allowed")]
    [InlineData("GET /other HTTP/1.1\r\n\r\n", "404 Not Found")]
    [InlineData("nonsense\r\n\r\n", "400 Bad Request")]
    public void Answer_Request_GivesStatus(string head, string status)
    {
        using var server = new MetricsHttpServer(new IPEndPoint(IPAddress.Loopback, 0), [new FixedSource("a_metric")], NullLogger<MetricsHttpServer>.Instance);
        Assert.Equal(status, server.Answer(head).Status);
    }

    [Fact]
    public void Render_SourceThatThrows_IsLeftOutAndTheOthersStay()
    {
        using var server = new MetricsHttpServer(new IPEndPoint(IPAddress.Loopback, 0),
            [new FixedSource("first"), new ThrowingSource(), new FixedSource("third")], NullLogger<MetricsHttpServer>.Instance);

        var page = server.Render();

        Assert.Contains("first 1\n", page, StringComparison.Ordinal);
        Assert.Contains("third 1\n", page, StringComparison.Ordinal);
        Assert.DoesNotContain("half_written", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_GetOverLoopback_AnswersWithTheExpositionContentType()
    {
        using var server = new MetricsHttpServer(new IPEndPoint(IPAddress.Loopback, 0), [new FixedSource("a_metric")], NullLogger<MetricsHttpServer>.Instance);
        await server.StartAsync(CancellationToken.None);
        try
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(server.LocalEndPoint!);
            await client.SendAsync("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"u8.ToArray(), SocketFlags.None);
            var response = new StringBuilder();
            var buffer = new byte[4096];
            int n;
            while ((n = await client.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                response.Append(Encoding.UTF8.GetString(buffer, 0, n));
            var text = response.ToString();

            Assert.StartsWith("HTTP/1.1 200 OK\r\n", text, StringComparison.Ordinal);
            Assert.Contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", text, StringComparison.Ordinal);
            Assert.EndsWith("\r\n\r\n# HELP a_metric help\n# TYPE a_metric gauge\na_metric 1\n", text, StringComparison.Ordinal);
        }
        finally
        {
            await server.StopAsync(CancellationToken.None);
        }
    }

    private sealed class FixedSource(string name) : IMetricsSource
    {
        public void Write(MetricsWriter writer)
        {
            writer.Family(name, "help", MetricType.Gauge);
            writer.Sample(1L);
        }
    }

    private sealed class ThrowingSource : IMetricsSource
    {
        public void Write(MetricsWriter writer)
        {
            writer.Family("half_written", "help", MetricType.Gauge);
            throw new InvalidOperationException("broken source");
        }
    }
}
