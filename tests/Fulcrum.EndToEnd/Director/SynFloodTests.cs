using System.Globalization;
using System.Text.Json;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Xunit.Abstractions;

namespace Fulcrum.EndToEnd.Director;

/// <summary>A lab whose director has a small connection table and every SYN-flood defense on automatic.</summary>
public sealed class SynFloodFixture : IAsyncLifetime
{
    /// <summary>The table's hard bound, both workers together.</summary>
    public const int MaxConnections = 16384;

    private readonly LabFixture _lab = new();
    private LabDirector? _director;

    public LabCluster Lab => _lab.Lab;

    public LabDirector Director => _director ?? throw new InvalidOperationException("the director is not running");

    public async Task InitializeAsync()
    {
        await _lab.InitializeAsync();
        _director = LabDirector.Start(Lab, "lb1", "--workers", "2", "--max-connections", MaxConnections.ToString(CultureInfo.InvariantCulture),
            "--drop-entry", "1", "--drop-packet", "1", "--secure-tcp", "1");
        _director.ApplySeed();
    }

    public Task DisposeAsync() => _lab.DisposeAsync();
}

/// <summary>
/// hping3 floods VIP:80 with SYNs from random spoofed sources for 10 s while wrk holds keep-alive
/// connections through the VIP. The spoofed packets never leave the lab: its namespaces have no link to
/// the root namespace, and the router has no default route, so the real servers' SYN-ACKs to the random
/// addresses die at the router. The router's reverse-path filter is off for the test (with it, the router
/// would drop the flood before it reached the director, as there is no route back to the random sources).
/// </summary>
public sealed class SynFloodTests : IClassFixture<SynFloodFixture>
{
    /// <summary>
    /// The director's resident memory bound during the flood. The table (16384 entries, ~1.5 MiB with its
    /// buckets) is small beside the runtime (~70 MiB) and the two workers' rings (17 MiB each, touched as
    /// they fill); the bound leaves room for the GC but fails if the table grew per SYN.
    /// </summary>
    private const long RssBoundKiB = 192 * 1024;

    private readonly SynFloodFixture _f;
    private readonly ITestOutputHelper _output;

    public SynFloodTests(SynFloodFixture fixture, ITestOutputHelper output)
    {
        _f = fixture;
        _output = output;
    }

    [Fact]
    public void SynFlood_RandomSources_KeepAliveTrafficUnharmed_MemoryBounded_DropsCountedByReason()
    {
        var lab = _f.Lab;
        lab.Exec("router", "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.eth0.rp_filter=0")
            .EnsureSuccess("router rp_filter off");
        Assert.Contains(ClientTools.CurlBody(lab, $"http://{LabAddresses.Vip}/").Trim(), (string[])["rs1", "rs2", "rs3"]);

        long rssBefore = RssKiB();
        long rssMax = rssBefore;
        var wrk = Task.Run(() => ClientTools.Wrk(lab, $"http://{LabAddresses.Vip}/", connections: 16, seconds: 14));
        Thread.Sleep(2000);

        // Bounded twice: interrupted by PID after 10 s, and `timeout` kills it at 15 s whatever happens.
        using (var flood = lab.StartProcess("client", "timeout", "-s", "KILL", "15", "hping3", "--flood", "--rand-source", "-S", "-p", "80",
                   LabAddresses.Vip.ToString()))
        {
            var end = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < end)
            {
                rssMax = Math.Max(rssMax, RssKiB());
                Thread.Sleep(200);
            }

            flood.Signal("INT");
            flood.WaitForExit(TimeSpan.FromSeconds(5));
        }

        var result = wrk.GetAwaiter().GetResult();
        rssMax = Math.Max(rssMax, RssKiB());
        var status = Status();
        var defense = status.GetProperty("defense");
        var drops = status.GetProperty("drops");
        long tableFull = drops.GetProperty("TableFull").GetInt64();
        long dropPacket = drops.GetProperty("DefenseDropPacket").GetInt64();
        long droppedEntries = defense.GetProperty("dropped_entries").GetInt64();
        string summary = $"wrk: {result.Requests} requests, {result.Errors} errors; RSS {rssBefore} -> max {rssMax} KiB; " +
            $"TableFull {tableFull}, DefenseDropPacket {dropPacket}, dropped entries {droppedEntries}; {defense}";

        _output.WriteLine(summary);
        _output.WriteLine(_f.Director.Status().StdOut);
        Assert.True(result.Requests > 1000, summary + "\n" + result.Output);
        Assert.Equal(0, result.Errors);
        Assert.True(rssMax < RssBoundKiB, summary);
        // The table filled up to its bound, the defense engaged, and each drop was counted by reason.
        Assert.True(dropPacket > 0, summary);
        Assert.True(droppedEntries > 0, summary);
        foreach (var worker in status.GetProperty("workers").EnumerateArray())
        {
            Assert.True(worker.GetProperty("connections").GetInt32() <= worker.GetProperty("capacity").GetInt32(), summary);
        }

        // Once the flood stops, drop_entry frees room and new connections get through again.
        Wait.For(() => ClientTools.Curl(lab, $"http://{LabAddresses.Vip}/", "client", "--max-time", "2").Succeeded,
            "a new connection after the flood", seconds: 60);
    }

    private long RssKiB()
    {
        foreach (var line in File.ReadLines($"/proc/{_f.Director.Process.Pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("no VmRSS for the director");
    }

    private JsonElement Status()
    {
        var json = _f.Director.Status(json: true).EnsureSuccess("fulcrum status --json").StdOut;
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }
}
