using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Fulcrum.Lab;
using Spectre.Console;

namespace Fulcrum.Cli;

/// <summary>
/// `fulcrum lab demo`: the seed story on this machine with two directors, each step printed with what
/// was measured and the expectation that decides it; exit 0 only if every expectation held. The lab
/// (namespaces, directors, servers) is removed at the end: on success, failure, Ctrl-C or SIGTERM.
/// </summary>
internal sealed class LabDemo : IDisposable
{
    private const int SpreadRequests = 30;
    private const int LongLived = 20;

    /// <summary>Answers each long-lived connection must complete after a takeover to count as kept.</summary>
    private const int AnswersAfterTakeover = 3;

    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan KeepAliveInterval = TimeSpan.FromMilliseconds(75);
    private static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan HealthDeadline = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan DirectorStartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>A crash takeover is bounded by 3 × advert + skew (361 ms at 0.1 s); this leaves room for a loaded machine.</summary>
    private static readonly TimeSpan MaxOutage = TimeSpan.FromMilliseconds(1500);

    private readonly LabCluster _lab;
    private readonly DemoState _state;
    private readonly CancellationToken _ct;
    private readonly LabHaConfig _config = new();
    private readonly Dictionary<string, string> _configFiles = new(StringComparer.Ordinal);
    private readonly DemoStep _spread, _health, _failover, _preempt;
    private LabDirector? _lb1;
    private LabDirector? _lb2;
    private LabClient? _client;
    private LabKeepAliveClients? _keep;

    private LabDemo(LabCluster lab, bool plain, CancellationToken ct)
    {
        _lab = lab;
        _ct = ct;
        _spread = new DemoStep(1, "Spread", "every real server answers, no request fails (mh hashes each connection's client port: not an exact 10/10/10)");
        _health = new DemoStep(2, "Health check", $"rs2 out of the MASTER's table (weight 0) and back within {HealthDeadline.TotalSeconds:0} s each; while out, no request reaches rs2 and none fails");
        _failover = new DemoStep(3, "Failover", $"lb2 MASTER; outage < {MaxOutage.TotalMilliseconds:0} ms; every long-lived connection kept on its real server");
        _preempt = new DemoStep(4, "Preempt", $"lb1 MASTER, lb2 BACKUP; outage < {MaxOutage.TotalMilliseconds:0} ms; every long-lived connection kept on its real server");
        _state = new DemoState([_spread, _health, _failover, _preempt], plain ? new Action<string>(Console.WriteLine) : null);
    }

    private static long Now => Stopwatch.GetTimestamp();

    /// <summary>Runs the demo in a lab named <paramref name="prefix"/>, or a fresh "demo…" one; returns the exit code.</summary>
    public static int Run(string? prefix, bool noTui)
    {
        var lab = prefix is null ? LabCluster.WithRandomPrefix("demo") : new LabCluster(prefix);
        using var cts = new CancellationTokenSource();
        void Interrupt(PosixSignalContext ctx)
        {
            ctx.Cancel = true;
            cts.Cancel();
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Interrupt);

        using var demo = new LabDemo(lab, noTui, cts.Token);
        demo.PrintIntro(noTui);
        return noTui ? demo.RunGuarded() : LabDemoView.RunLive(demo._state, demo.RunGuarded);
    }

    private void PrintIntro(bool plain)
    {
        var lines = new List<string>
        {
            $"fulcrum lab demo: lab '{_lab.Prefix}' (namespaces {_lab.Prefix}-*), two Fulcrum directors in lb1 and lb2, each `fulcrum run -f keepalived-lbN.conf --sloppy-tcp`.",
            "lb1's keepalived.conf (lb2's differs only in router_id and priority 100):",
        };
        foreach (var line in _config.Render("lb1").TrimEnd('\n').Split('\n'))
        {
            lines.Add("    " + line);
        }

        foreach (var line in lines)
        {
            if (plain)
            {
                Console.WriteLine(line);
            }
            else
            {
                AnsiConsole.MarkupLine($"[grey]{Markup.Escape(line)}[/]");
            }
        }
    }

    private int RunGuarded()
    {
        int exit;
        try
        {
            exit = RunSteps().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (_ct.IsCancellationRequested)
        {
            _state.Log("interrupted: tearing the lab down");
            exit = 130;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException or SocketException or AggregateException or KeyNotFoundException)
        {
            _state.Log($"[Demo] FAIL {ex.Message}");
            exit = 1;
        }
        finally
        {
            TearDown();
        }

        if (exit == 0)
        {
            _state.Log("every step held");
        }
        else if (exit == 1)
        {
            _state.Log("a step failed (see above)");
        }

        return exit;
    }

    private async Task<int> RunSteps()
    {
        if (_lab.IsUp || Directory.Exists(_lab.StateDirectory))
        {
            _state.Log($"lab '{_lab.Prefix}' exists from an earlier run: removing it first");
            _lab.Down();
        }

        var sw = Stopwatch.StartNew();
        _lab.Up();
        _state.Log($"[Lab] up in {sw.ElapsedMilliseconds} ms: client, router, lb1, lb2, rs1..rs3 (nginx) in namespaces {_lab.Prefix}-*");
        _ct.ThrowIfCancellationRequested();

        sw.Restart();
        foreach (var host in (string[])["lb1", "lb2"])
        {
            _configFiles[host] = _config.Write(_lab, host);
        }

        var lb1 = Task.Run(() => StartDirector("lb1"), _ct);
        var lb2 = Task.Run(() => StartDirector("lb2"), _ct);
        _lb1 = await lb1.ConfigureAwait(false);
        _lb2 = await lb2.ConfigureAwait(false);
        using var monitor = new CancellationTokenSource();
        var monitoring = Task.Run(() => Monitor(monitor.Token), CancellationToken.None);
        try
        {
            var roles = await WaitFor(() => _lb1.VrrpState() == "MASTER" && _lb2.VrrpState() == "BACKUP", Now, TimeSpan.FromSeconds(15)).ConfigureAwait(false);
            if (roles is null)
            {
                throw new TimeoutException($"lb1 did not become MASTER with lb2 BACKUP within 15 s (lb1 {_lb1.VrrpState() ?? "down"}, lb2 {_lb2.VrrpState() ?? "down"})");
            }

            _state.Log($"[Directors] lb1 MASTER, lb2 BACKUP {sw.ElapsedMilliseconds} ms after start (VRRPv{_config.VrrpVersion}, advert {_config.AdvertInterval} s, VRID {_config.VirtualRouterId}; lb_algo {_config.Scheduler} {string.Join(' ', _config.SchedulerFlags)}; HTTP_GET every {_config.DelayLoop} s)");
            _client = new LabClient(_lab);

            bool ok = await Spread().ConfigureAwait(false);
            ok &= await HealthCheck().ConfigureAwait(false);
            await using (var keep = await OpenLongLived().ConfigureAwait(false))
            await using (var probe = LabProbeLoop.Start(_client, ProbeInterval, ProbeTimeout))
            {
                ok &= await Failover(keep, probe).ConfigureAwait(false);
                ok &= await Preempt(keep, probe).ConfigureAwait(false);
            }

            return ok ? 0 : 1;
        }
        finally
        {
            await monitor.CancelAsync().ConfigureAwait(false);
            await monitoring.ConfigureAwait(false);
        }
    }

    /// <summary>`fulcrum run -f keepalived-HOST.conf --sloppy-tcp`; a loaded machine can take many seconds to start it.</summary>
    private LabDirector StartDirector(string host) =>
        LabDirector.Start(_lab, host, ["-f", _configFiles[host], "--sloppy-tcp"], DirectorStartTimeout, _ct);

    /// <summary>Step 1: fresh connections spread across rs1..rs3.</summary>
    private async Task<bool> Spread()
    {
        _state.Begin(_spread);
        var (counts, failed) = await Requests(SpreadRequests).ConfigureAwait(false);
        bool ok = failed == 0 && counts.Values.All(c => c > 0);
        _state.Finish(_spread, ok, $"{SpreadRequests} new connections to {LabAddresses.Vip}:80 through lb1: {Spread(counts)}, failed {failed}");
        return ok;
    }

    /// <summary>Step 2: rs2's nginx stops, the HTTP_GET checks take it out; it starts again and returns.</summary>
    private async Task<bool> HealthCheck()
    {
        _state.Begin(_health);
        var master = _lb1!;
        var rs2 = LabAddresses.Rs2.ToString();
        var nginx = _lab.TrackedProcesses().Last(p => p.Host == "rs2" && p.Name == "nginx" && !p.HasExited);
        long stopped = Now;
        nginx.Signal("TERM");
        if (!nginx.WaitForExit(TimeSpan.FromSeconds(5)))
        {
            throw new TimeoutException("rs2's nginx did not stop on SIGTERM");
        }

        _state.Log("rs2: nginx stopped (SIGTERM)");
        var outAfter = await WaitFor(() => master.RealServerWeights()?.GetValueOrDefault(rs2, -1) == 0, stopped, HealthDeadline).ConfigureAwait(false);
        var (whileOut, failedWhileOut) = await Requests(SpreadRequests).ConfigureAwait(false);

        var dir = Path.Combine(_lab.StateDirectory, "rs2");
        long started = Now;
        _lab.StartProcess("rs2", "nginx", "-e", Path.Combine(dir, "error.log"), "-p", dir, "-c", Path.Combine(dir, "nginx.conf"));
        _state.Log("rs2: nginx started again");
        var backAfter = await WaitFor(() => master.RealServerWeights()?.GetValueOrDefault(rs2, -1) > 0, started, HealthDeadline).ConfigureAwait(false);
        int tries = 0;
        bool rs2Answers = false;
        while (backAfter is not null && !rs2Answers && tries++ < SpreadRequests)
        {
            rs2Answers = await _client!.GetAsync(RequestTimeout, _ct).ConfigureAwait(false) == "rs2";
        }

        bool ok = outAfter is not null && backAfter is not null && whileOut["rs2"] == 0 && failedWhileOut == 0 && rs2Answers;
        _state.Finish(_health, ok,
            $"rs2's nginx stopped: out of lb1's table (weight 0) after {Ms(outAfter)}; {SpreadRequests} requests while out: {Spread(whileOut)}, failed {failedWhileOut}; " +
            $"nginx started: back (weight 1) after {Ms(backAfter)}, {(rs2Answers ? $"rs2 answered again ({tries} requests)" : "rs2 did not answer")}");
        return ok;
    }

    private async Task<LabKeepAliveClients> OpenLongLived()
    {
        var keep = await LabKeepAliveClients.OpenAsync(_client!, LongLived, KeepAliveInterval, KeepAliveTimeout, _ct).ConfigureAwait(false);
        _keep = keep;
        var (kept, _) = await keep.KeptSince(new int[LongLived], 2, TimeSpan.FromSeconds(5), _ct).ConfigureAwait(false);
        var on = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var c in keep.Connections)
        {
            if (c.RealServer is { } rs)
            {
                on[rs] = on.GetValueOrDefault(rs) + 1;
            }
        }

        _state.Log($"{LongLived} long-lived keep-alive connections, a GET every {KeepAliveInterval.TotalMilliseconds:0} ms each: {kept} answering ({string.Join(", ", on.Select(kv => $"{kv.Key} {kv.Value}"))}); probes: a new connection every {ProbeInterval.TotalMilliseconds:0} ms");
        return keep;
    }

    /// <summary>Step 3: SIGKILL of the MASTER; lb2 takes the VIP and the long-lived connections go on.</summary>
    private async Task<bool> Failover(LabKeepAliveClients keep, LabProbeLoop probe)
    {
        _state.Begin(_failover);
        var lb1 = _lb1!;
        var lb2 = _lb2!;
        await Task.Delay(500, _ct).ConfigureAwait(false);
        long killed = Now;
        lb1.Process.Signal("KILL");
        _state.Log("lb1: fulcrum SIGKILLed (no priority-0 advert: lb2 waits Master_Down_Interval)");
        var takeover = await WaitFor(() => lb2.VrrpState() == "MASTER", killed, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        var (ok, measured) = await AfterChange(keep, probe, killed, lb2, "lb2").ConfigureAwait(false);
        ok &= takeover is not null;
        _state.Finish(_failover, ok, $"lb1 SIGKILLed: lb2 MASTER after {Ms(takeover)}; {measured}");
        return ok;
    }

    /// <summary>Step 4: lb1 starts again, preempts (priority 150 over 100) and the connections go on.</summary>
    private async Task<bool> Preempt(LabKeepAliveClients keep, LabProbeLoop probe)
    {
        _state.Begin(_preempt);
        var lb2 = _lb2!;
        long started = Now;
        var lb1 = await Task.Run(() => StartDirector("lb1"), _ct).ConfigureAwait(false);
        _lb1 = lb1;
        var ready = Stopwatch.GetElapsedTime(started);
        _state.Log($"lb1: fulcrum started again, control socket up after {ready.TotalMilliseconds:0} ms");
        var preempted = await WaitFor(() => lb1.VrrpState() == "MASTER" && lb2.VrrpState() == "BACKUP", started, ready + TimeSpan.FromSeconds(10)).ConfigureAwait(false);

        // The outage is measured around the takeover: VRRP starts once the daemon is up. Before that the
        // client is served by lb2 all along (on a loaded machine, slower while lb1 starts).
        var (ok, measured) = await AfterChange(keep, probe, started + (long)(ready.TotalSeconds * Stopwatch.Frequency), lb1, "lb1").ConfigureAwait(false);
        ok &= preempted is not null;
        _state.Finish(_preempt, ok, $"lb1 restarted: MASTER (lb2 BACKUP) after {Ms(preempted)} ({Ms(preempted - ready)} after its daemon was up); {measured}");
        return ok;
    }

    /// <summary>
    /// After a director change at <paramref name="since"/>: every long-lived connection must complete more
    /// requests on the real server it had, and the new MASTER's own table must hold each flow on that server
    /// (it scheduled them from a mid-stream packet, and Maglev gave the same answer as the old MASTER).
    /// </summary>
    private async Task<(bool Ok, string Measured)> AfterChange(LabKeepAliveClients keep, LabProbeLoop probe, long since, LabDirector master, string name)
    {
        var mark = keep.Mark();
        var (kept, lost) = await keep.KeptSince(mark, AnswersAfterTakeover, TimeSpan.FromSeconds(5), _ct).ConfigureAwait(false);

        // Probes for a while after the change, so the outage is closed by served probes on both sides.
        await Task.Delay(300, _ct).ConfigureAwait(false);
        var probes = probe.Probes;
        long window = since - (long)(0.5 * Stopwatch.Frequency);
        var gap = LabProbeLoop.LongestGap(probes, window);
        var (served, failed) = LabProbeLoop.Count(probes, window);
        var table = master.ConnectionsByClientPort();
        int inTable = 0;
        foreach (var c in keep.Connections)
        {
            if (c.RealServer is { } rs && table.TryGetValue(c.ClientPort, out var dest) && dest == LabAddresses.Of(rs).ToString())
            {
                inTable++;
            }
        }

        UpdateLongLived(keep);
        var failures = keep.Connections.Where(c => c.Lost).Select(c => c.Failure).Distinct().Take(2).ToList();
        bool ok = gap is { } g && g < MaxOutage && lost == 0 && inTable == keep.Connections.Count;
        var text = $"client outage {(gap is { } x ? $"{x.TotalMilliseconds:0} ms" : "never ended")} (longest gap between served probes; {served} served, {failed} not); " +
            $"long-lived connections: {kept} kept, {lost} lost{(failures.Count > 0 ? $" ({string.Join("; ", failures)})" : "")}; " +
            $"{name}'s table holds {inTable}/{keep.Connections.Count} of them on the same real server";
        return (ok, text);
    }

    private void UpdateLongLived(LabKeepAliveClients keep)
    {
        lock (_state.Gate)
        {
            _state.LongLived.Clear();
            foreach (var c in keep.Connections)
            {
                if (c.RealServer is { } rs)
                {
                    var (open, lost) = _state.LongLived.GetValueOrDefault(rs);
                    _state.LongLived[rs] = (open + 1, lost + (c.Lost ? 1 : 0));
                }
            }
        }
    }

    private async Task<(SortedDictionary<string, int> Counts, int Failed)> Requests(int n)
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var rs in LabCluster.RealServerHosts)
        {
            counts[rs] = 0;
        }

        int failed = 0;
        for (int i = 0; i < n; i++)
        {
            var name = await _client!.GetAsync(RequestTimeout, _ct).ConfigureAwait(false);
            if (name is not null && counts.TryGetValue(name, out int c))
            {
                counts[name] = c + 1;
            }
            else
            {
                failed++;
            }
        }

        return (counts, failed);
    }

    /// <summary>Polls <paramref name="condition"/> every 10 ms; the time from <paramref name="since"/> until it held, or null after <paramref name="timeout"/>.</summary>
    private async Task<TimeSpan?> WaitFor(Func<bool> condition, long since, TimeSpan timeout)
    {
        while (true)
        {
            _ct.ThrowIfCancellationRequested();
            if (condition())
            {
                return Stopwatch.GetElapsedTime(since);
            }

            if (Stopwatch.GetElapsedTime(since) > timeout)
            {
                return null;
            }

            await Task.Delay(10, _ct).ConfigureAwait(false);
        }
    }

    /// <summary>Keeps the view's director states, weights and answer counts current until cancelled.</summary>
    private async Task Monitor(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var states = new Dictionary<string, string>(StringComparer.Ordinal);
            LabDirector? master = null;
            foreach (var d in (LabDirector?[])[_lb1, _lb2])
            {
                if (d is null)
                {
                    continue;
                }

                var s = d.Process.HasExited ? "killed" : d.VrrpState() ?? "starting";
                states[d.Host] = s;
                if (s == "MASTER")
                {
                    master ??= d;
                }
            }

            var weights = master?.RealServerWeights();
            var answers = _client?.Answers;
            if (_keep is { } keep)
            {
                UpdateLongLived(keep);
            }

            lock (_state.Gate)
            {
                foreach (var (host, s) in states)
                {
                    _state.DirectorStates[host] = s;
                }

                if (weights is not null)
                {
                    foreach (var rs in LabCluster.RealServerHosts)
                    {
                        _state.Weights[rs] = weights.TryGetValue(LabAddresses.Of(rs).ToString(), out int w) ? w : null;
                    }
                }

                if (answers is not null)
                {
                    foreach (var (rs, n) in answers)
                    {
                        _state.Answers[rs] = n;
                    }
                }
            }

            try
            {
                await Task.Delay(150, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public void Dispose()
    {
        _client?.Dispose();
        _client = null;
    }

    private void TearDown()
    {
        Dispose();
        try
        {
            var strays = _lab.Down();
            _state.Log($"lab '{_lab.Prefix}' removed (namespaces, directors, servers){(strays.Count > 0 ? $"; {strays.Count} processes not started by the lab left alone" : "")}");
        }
        catch (InvalidOperationException e)
        {
            _state.Log($"removing lab '{_lab.Prefix}' failed: {e.Message}; run `fulcrum lab down --prefix {_lab.Prefix}`");
        }
    }

    private static string Spread(SortedDictionary<string, int> counts) =>
        string.Join(", ", counts.Select(kv => $"{kv.Key} {kv.Value}"));

    private static string Ms(TimeSpan? t) =>
        t is { } v ? string.Create(CultureInfo.InvariantCulture, $"{v.TotalMilliseconds:0} ms") : "never (timed out)";
}
