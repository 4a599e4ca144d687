using System.Diagnostics;
using System.Text;
using Fulcrum.Lab;

namespace Fulcrum.Tests.Lab;

/// <summary>The parsing and measuring the demo's steps decide on: director output, HTTP answers, probe gaps.</summary>
public class LabDemoToolsTests
{
    [Fact]
    public void ParseVrrpState_StatusText_StateOfTheNamedInstance()
    {
        const string Status = "Interface: eth0\nVRRP instances:\n  VI_2 eth0 vrid 52 v3 BACKUP priority 100 master - vips 198.51.100.101\n" +
            "  VI_1 eth0 vrid 51 v3 MASTER priority 150 master 198.51.100.11 vips 198.51.100.100\nHealth checks:\n";

        Assert.Equal("MASTER", LabDirector.ParseVrrpState(Status, "VI_1"));
        Assert.Equal("BACKUP", LabDirector.ParseVrrpState(Status, "VI_2"));
        Assert.Null(LabDirector.ParseVrrpState(Status, "VI_3"));
        Assert.Null(LabDirector.ParseVrrpState("VRRP instances:\n  (none)\n", "VI_1"));
    }

    [Fact]
    public void ParseWeights_IpvsadmList_AddressToWeight()
    {
        const string List = """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
            TCP  198.51.100.100:80 mh (mh-fallback,mh-port)
              -> 198.51.100.2:80              Route   1      3          0
              -> 198.51.100.3:80              Route   0      0          12
              -> 198.51.100.4:80              Route   1      2          1

            """;

        var weights = LabDirector.ParseWeights(List);

        Assert.Equal(3, weights.Count);
        Assert.Equal(1, weights["198.51.100.2"]);
        Assert.Equal(0, weights["198.51.100.3"]);
        Assert.Equal(1, weights["198.51.100.4"]);
    }

    [Fact]
    public void TryParseResponse_CompleteOk_Body()
    {
        var ok = LabClient.TryParseResponse(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 4\r\n\r\nrs2\n"), out var body, out var error);

        Assert.True(ok);
        Assert.Equal("rs2", body);
        Assert.Null(error);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Len")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nrs")]
    public void TryParseResponse_Incomplete_WantsMore(string text)
    {
        Assert.False(LabClient.TryParseResponse(Encoding.ASCII.GetBytes(text), out _, out var error));
        Assert.Null(error);
    }

    [Theory]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("SSH-2.0-OpenSSH\r\n\r\n")]
    public void TryParseResponse_NotAnOkWithLength_Error(string text)
    {
        Assert.False(LabClient.TryParseResponse(Encoding.ASCII.GetBytes(text), out _, out var error));
        Assert.NotNull(error);
    }

    private static LabProbe Probe(double startMs, bool served) =>
        new((long)(startMs * Stopwatch.Frequency / 1000), (long)((startMs + 1) * Stopwatch.Frequency / 1000), served ? "rs1" : null);

    [Fact]
    public void LongestGap_OutageBetweenServedProbes_IsTheGapOfTheirStarts()
    {
        // Every 20 ms; probes at 100..160 ms fail, served again from 180 ms: served starts 80 → 180 = 100 ms.
        var probes = new List<LabProbe>();
        for (int t = 0; t <= 300; t += 20)
        {
            probes.Add(Probe(t, served: t is < 100 or >= 180));
        }

        Assert.Equal(100, LabProbeLoop.LongestGap(probes, 0)!.Value.TotalMilliseconds, precision: 3);
        Assert.Equal(20, LabProbeLoop.LongestGap(probes, (long)(0.2 * Stopwatch.Frequency))!.Value.TotalMilliseconds, precision: 3);
        Assert.Equal((12, 4), LabProbeLoop.Count(probes, 0));
    }

    [Fact]
    public void LongestGap_NothingServedAfter_Null()
    {
        LabProbe[] probes = [Probe(0, true), Probe(20, false), Probe(40, false)];

        Assert.Null(LabProbeLoop.LongestGap(probes, (long)(0.01 * Stopwatch.Frequency)));
    }

    [Fact]
    public void KeepAliveConnection_AnsweredByAnotherRealServer_Lost()
    {
        var c = new LabKeepAliveConnection(40000);
        c.Answered("rs2");
        c.Answered("rs2");

        Assert.False(c.Lost);
        Assert.Equal(2, c.Answers);

        c.Answered("rs3");

        Assert.True(c.Lost);
        Assert.Equal("rs2", c.RealServer);
        Assert.Equal(2, c.Answers);
        Assert.Contains("rs3", c.Failure, StringComparison.Ordinal);
    }

    [Fact]
    public void KeepAliveConnection_Fail_KeepsTheFirstReason()
    {
        var c = new LabKeepAliveConnection(40000);
        c.Fail("connection reset");
        c.Fail("no answer within 5 s");

        Assert.Equal("connection reset", c.Failure);
    }
}
