using System.Collections.Concurrent;
using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Config;
using Fulcrum.Health;
using Fulcrum.Tests.Adm;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Fulcrum.Tests.Health;

public sealed class HealthMonitorTests : IDisposable
{
    private static readonly ServiceKey Vip = new(IpProtocol.Tcp, IPAddress.Parse("198.51.100.100"), 80);
    private static readonly IPAddress Rs1 = IPAddress.Parse("198.51.100.2");
    private static readonly IPAddress Rs2 = IPAddress.Parse("198.51.100.3");
    private static readonly IPAddress Rs3 = IPAddress.Parse("198.51.100.4");
    private static readonly IPAddress Sorry = IPAddress.Parse("198.51.100.9");
    private static readonly TimeSpan Plenty = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new();
    private readonly ConcurrentDictionary<IPAddress, ManualChecker> _checkers = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("fulcrum-health-").FullName;
    private HealthMonitor? _monitor;

    public void Dispose()
    {
        _monitor?.StopAsync().Wait(TimeSpan.FromSeconds(10));
        Directory.Delete(_dir, recursive: true);
    }

    private ManualChecker Check(IPAddress rs) => _checkers.GetOrAdd(rs, _ => new ManualChecker());

    /// <summary>rs1 weight 2, rs2 and rs3 weight 1, each with one TCP_CHECK (retry 0, delay_loop 1).</summary>
    private static string Config(string vsExtra = "", string rsExtra = "", bool threeServers = true) => $$"""
        virtual_server 198.51.100.100 80 {
            delay_loop 1
            lb_algo wrr
            lb_kind DR
            {{vsExtra}}
            real_server 198.51.100.2 80 {
                weight 2
                {{rsExtra}}
                TCP_CHECK {
                    retry 0
                    warmup 0
                }
            }
            real_server 198.51.100.3 80 {
                {{rsExtra}}
                TCP_CHECK {
                    retry 0
                    warmup 0
                }
            }
            {{(threeServers ? "real_server 198.51.100.4 80 {\n " + rsExtra + "\n TCP_CHECK {\n retry 0\n warmup 0\n }\n }" : "")}}
        }
        """;

    private HealthMonitor Start(string config, IIpvsControl? ipvs = null)
    {
        _monitor = new HealthMonitor(
            HealthConfig.Parse(config),
            ipvs ?? new IpvsTable(_time),
            options: new HealthMonitorOptions
            {
                Time = _time,
                CheckerFactory = c => Check(((TcpCheck)c).Connection.ConnectIp),
                Random = new Random(1),
                DrainPollInterval = TimeSpan.FromMilliseconds(100),
            });
        _monitor.Start();
        return _monitor;
    }

    private static Dictionary<IPAddress, int> Dests(IIpvsControl ipvs) =>
        ipvs.GetService(Vip)?.Dests.ToDictionary(d => d.Spec.Address, d => d.Spec.Weight) ?? [];

    private void Until(Func<bool> condition, string what) => Eventually.Holds(_time, condition, Plenty, what);

    [Fact]
    public void Start_AllUp_CreatesServiceWithConfiguredWeights()
    {
        var ipvs = new IpvsTable(_time);
        Start(Config(), ipvs);
        var svc = ipvs.GetService(Vip);
        Assert.NotNull(svc);
        Assert.Equal("wrr", svc.Spec.Scheduler);
        Assert.Equal(new Dictionary<IPAddress, int> { [Rs1] = 2, [Rs2] = 1, [Rs3] = 1 }, Dests(ipvs));
        Assert.All(svc.Dests, d => Assert.Equal(ForwardingMethod.DirectRoute, d.Spec.Method));
    }

    [Fact]
    public void CheckFails_RealServerRemoved_AndReturnsWhenUp()
    {
        var ipvs = new IpvsTable(_time);
        var m = Start(Config(), ipvs);
        var changes = new ConcurrentQueue<RealServerHealth>();
        m.RealServerChanged += changes.Enqueue;

        Check(Rs2).Result = CheckResult.Failure("refused");
        Until(() => !Dests(ipvs).ContainsKey(Rs2), "rs2 removed");
        Assert.Equal(new Dictionary<IPAddress, int> { [Rs1] = 2, [Rs3] = 1 }, Dests(ipvs));
        var rs2 = m.GetRealServers().Single(r => r.Address.Equals(Rs2));
        Assert.False(rs2.IsUp);
        Assert.Equal("refused", Assert.Single(rs2.Checkers).LastFailure);

        Check(Rs2).Result = CheckResult.Success;
        Until(() => Dests(ipvs).ContainsKey(Rs2), "rs2 back");
        Assert.Equal(1, Dests(ipvs)[Rs2]);
        Assert.Equal([false, true], changes.Where(c => c.Address.Equals(Rs2)).Select(c => c.IsUp));
    }

    [Fact]
    public void CheckFails_InhibitOnFailure_WeightZeroInsteadOfRemoval()
    {
        var ipvs = new IpvsTable(_time);
        Start(Config(rsExtra: "inhibit_on_failure"), ipvs);
        Check(Rs1).Result = CheckResult.Failure("refused");
        Until(() => Dests(ipvs)[Rs1] == 0, "rs1 at weight 0");
        Assert.Equal(3, Dests(ipvs).Count);
        Check(Rs1).Result = CheckResult.Success;
        Until(() => Dests(ipvs)[Rs1] == 2, "rs1 back at weight 2");
    }

    [Fact]
    public void AllDown_SorryServerTakesOver_AndLeavesWhenOneReturns()
    {
        var ipvs = new IpvsTable(_time);
        var m = Start(Config(vsExtra: "sorry_server 198.51.100.9 80"), ipvs);
        Assert.False(Dests(ipvs).ContainsKey(Sorry));
        foreach (var rs in new[] { Rs1, Rs2, Rs3 })
        {
            Check(rs).Result = CheckResult.Failure("down");
        }

        Until(() => Dests(ipvs).Keys.SequenceEqual([Sorry]), "only the sorry server");
        Assert.Equal(1, Dests(ipvs)[Sorry]);
        Assert.True(m.GetVirtualServers().Single().SorryServerActive);

        Check(Rs3).Result = CheckResult.Success;
        Until(() => Dests(ipvs).Keys.SequenceEqual([Rs3]), "rs3 replaces the sorry server");
    }

    [Fact]
    public void QuorumLost_SorryServerReplacesLiveServers_QuorumScriptsRun()
    {
        var ipvs = new IpvsTable(_time);
        string log = Path.Combine(_dir, "quorum.log");
        Start(Config(vsExtra: $"quorum 3\n sorry_server 198.51.100.9 80\n quorum_up \"/bin/sh -c 'echo up >> {log}'\"\n quorum_down \"/bin/sh -c 'echo down >> {log}'\""), ipvs);

        // Live weight 2 + 1 + 1 = 4 ≥ 3. Losing rs1 (weight 2) leaves 2 < 3: quorum lost while rs2 and rs3 are alive.
        Check(Rs1).Result = CheckResult.Failure("down");
        Until(() => Dests(ipvs).Keys.SequenceEqual([Sorry]), "sorry server alone");
        Assert.True(Eventually.WaitReal(() => File.Exists(log) && File.ReadAllText(log) == "down\n", Plenty), "quorum_down ran");

        Check(Rs1).Result = CheckResult.Success;
        Until(() => Dests(ipvs).Count == 3 && !Dests(ipvs).ContainsKey(Sorry), "live servers back, sorry server gone");
        Assert.True(Eventually.WaitReal(() => File.ReadAllText(log) == "down\nup\n", Plenty), "quorum_up ran");
    }

    [Fact]
    public void Hysteresis_QuorumKeptUntilBelowQuorumMinusHysteresis()
    {
        var ipvs = new IpvsTable(_time);
        var m = Start(Config(vsExtra: "quorum 3\n hysteresis 1"), ipvs);
        bool QuorumUp() => m.GetVirtualServers().Single().QuorumUp;
        Assert.True(QuorumUp());

        // 4 → 2: not below 3 - 1.
        Check(Rs1).Result = CheckResult.Failure("x");
        Until(() => Dests(ipvs).Count == 2, "rs1 out");
        Assert.True(QuorumUp());

        // 2 → 1: below 2, lost.
        Check(Rs2).Result = CheckResult.Failure("x");
        Until(() => !QuorumUp(), "quorum lost");

        // 1 → 3: not yet 3 + 1.
        Check(Rs1).Result = CheckResult.Success;
        Until(() => Dests(ipvs).ContainsKey(Rs1), "rs1 back");
        Assert.False(QuorumUp());
        Check(Rs2).Result = CheckResult.Success;
        Until(QuorumUp, "quorum regained at 4");
        Assert.Equal(4, m.GetVirtualServers().Single().LiveWeight);
    }

    [Fact]
    public void Alpha_StartsOutOfPool_JoinsAfterFirstSuccess()
    {
        var ipvs = new IpvsTable(_time);
        Check(Rs1).Result = CheckResult.Failure("not yet");
        Check(Rs2).Result = CheckResult.Failure("not yet");
        Start(Config(vsExtra: "alpha", threeServers: false), ipvs);
        Assert.Empty(Dests(ipvs));
        Check(Rs2).Result = CheckResult.Success;
        Until(() => Dests(ipvs).ContainsKey(Rs2), "rs2 joins after its first success");
        Until(() => Check(Rs1).Runs >= 3, "rs1 checked a few times");
        Assert.False(Dests(ipvs).ContainsKey(Rs1));
    }

    [Fact]
    public void MiscDynamic_WeightAppliedToTable()
    {
        var ipvs = new IpvsTable(_time);
        Check(Rs2).Result = new CheckResult(true, null, 7);
        Start(Config(), ipvs);
        Until(() => Dests(ipvs)[Rs2] == 7, "rs2 at weight 7");
        Assert.Equal(7, _monitor!.GetRealServers().Single(r => r.Address.Equals(Rs2)).Weight);
    }

    [Fact]
    public void DesiredTable_AfterChange_MatchesRunningTable()
    {
        var ipvs = new IpvsTable(_time);
        var m = Start(Config(rsExtra: "inhibit_on_failure"), ipvs);
        Check(Rs3).Result = CheckResult.Failure("x");
        Until(() => Dests(ipvs)[Rs3] == 0, "rs3 inhibited");
        var running = ipvs.GetServices().Select(s => (s.Spec, (IReadOnlyList<DestSpec>)s.Dests.Select(d => d.Spec).ToList())).ToList();
        Assert.True(IpvsDiff.Compute(running, m.DesiredTable()).IsEmpty);
    }

    [Fact]
    public async Task Drain_ConnectionsEnd_WeightZeroThenRemoved()
    {
        var ipvs = new FakeIpvsControl();
        var m = Start(Config(), ipvs);
        ipvs.SetDestCounters(Vip, Rs2, 80, active: 3, inactive: 1);
        var drain = m.DrainAsync(Vip, Rs2, 80, TimeSpan.FromMinutes(5));
        Assert.Equal(0, Dests(ipvs)[Rs2]);
        _time.Advance(TimeSpan.FromSeconds(2));
        await Task.Delay(50);
        Assert.False(drain.IsCompleted);
        ipvs.SetDestCounters(Vip, Rs2, 80, active: 0, inactive: 0);
        Until(() => drain.IsCompleted, "drain done");
        Assert.Equal(DrainOutcome.Drained, await drain);
        Assert.False(Dests(ipvs).ContainsKey(Rs2));

        // Drained out by the operator: a passing check does not bring it back.
        Check(Rs2).Result = CheckResult.Failure("x");
        Until(() => !m.GetRealServers().Single(r => r.Address.Equals(Rs2)).IsUp, "rs2 down");
        Check(Rs2).Result = CheckResult.Success;
        Until(() => m.GetRealServers().Single(r => r.Address.Equals(Rs2)).IsUp, "rs2 up");
        Assert.False(Dests(ipvs).ContainsKey(Rs2));
        Assert.True(m.GetRealServers().Single(r => r.Address.Equals(Rs2)).Draining);
    }

    [Fact]
    public async Task Drain_ConnectionsOutliveDeadline_RemovedAtDeadline()
    {
        var ipvs = new FakeIpvsControl();
        var m = Start(Config(), ipvs);
        ipvs.SetDestCounters(Vip, Rs1, 80, active: 1, inactive: 0);
        var drain = m.DrainAsync(Vip, Rs1, 80, TimeSpan.FromSeconds(3));
        _time.Advance(TimeSpan.FromSeconds(2.5));
        await Task.Delay(50);
        Assert.True(Dests(ipvs).ContainsKey(Rs1));
        Until(() => drain.IsCompleted, "deadline");
        Assert.Equal(DrainOutcome.DeadlineReached, await drain);
        Assert.False(Dests(ipvs).ContainsKey(Rs1));
    }

    [Fact]
    public async Task Drain_UnknownDest_NotFound()
    {
        var m = Start(Config());
        Assert.Equal(DrainOutcome.NotFound, await m.DrainAsync(Vip, IPAddress.Parse("198.51.100.77"), 80, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void UpdateConfiguration_RealServerRemoved_DrainedOut_OthersKeepState()
    {
        var ipvs = new IpvsTable(_time);
        var m = Start(Config(), ipvs);
        Check(Rs2).Result = CheckResult.Failure("x");
        Until(() => !Dests(ipvs).ContainsKey(Rs2), "rs2 down");

        m.UpdateConfiguration(HealthConfig.Parse(Config(threeServers: false)));
        Until(() => !Dests(ipvs).ContainsKey(Rs3), "rs3 drained out (no connections)");
        Assert.Equal([Rs1], Dests(ipvs).Keys);
        Assert.False(m.GetRealServers().Single(r => r.Address.Equals(Rs2)).IsUp);
        Assert.Equal(2, m.GetRealServers().Count);
    }

    [Fact]
    public void RealServerChanges_NotifyScriptsRun()
    {
        string log = Path.Combine(_dir, "notify.log");
        Start(Config(rsExtra: $"notify_up \"/bin/sh -c 'echo up $0 >> {log}' rs\"\n notify_down \"/bin/sh -c 'echo down $0 >> {log}' rs\"", threeServers: false));
        Check(Rs1).Result = CheckResult.Failure("x");
        Assert.True(Eventually.WaitReal(() => { _time.Advance(TimeSpan.FromMilliseconds(100)); return File.Exists(log) && File.ReadAllText(log) == "down rs\n"; }, Plenty), "notify_down ran");
        Check(Rs1).Result = CheckResult.Success;
        Assert.True(Eventually.WaitReal(() => { _time.Advance(TimeSpan.FromMilliseconds(100)); return File.ReadAllText(log) == "down rs\nup rs\n"; }, Plenty), "notify_up ran");
    }
}
