using System.Net;
using Fulcrum.Adm;
using Fulcrum.Balancing;
using Microsoft.Extensions.Time.Testing;

namespace Fulcrum.Tests.Adm;

/// <summary>`-d ... --drain SECONDS` (our extension): parsing, legality, errors, and the scheduler that finishes it.</summary>
public class DrainTests
{
    private static readonly ServiceKey Vip80 = AdmHarness.Tcp(AdmHarness.Vip, 80);
    private static readonly IPAddress Rs1 = IPAddress.Parse("198.51.100.2");
    private static readonly IPAddress Rs2 = IPAddress.Parse("198.51.100.3");

    [Fact]
    public void DeleteWithDrain_Valid_SetsWeightZeroAndSchedulesTheDeleteWithoutDeleting()
    {
        AdmHarness h = AdmHarness.Seed();
        var drains = new RecordingDrains();
        AdmResult r = Run(h, drains, "-d -t 198.51.100.100:80 -r 198.51.100.2:80 --drain 30");

        Assert.Equal(new AdmResult(0, "", ""), r);
        DestInfo rs1 = Dest(h.Control, Rs1)!;
        Assert.Equal(0, rs1.Spec.Weight);
        Assert.Equal(ForwardingMethod.DirectRoute, rs1.Spec.Method);
        Assert.Equal(1, Dest(h.Control, Rs2)!.Spec.Weight);
        Assert.Equal([(Vip80, Rs1, (ushort)80, TimeSpan.FromSeconds(30))], drains.Calls);
    }

    [Theory]
    [InlineData("-d -t 198.51.100.100:80 -r 198.51.100.2 --drain=5")]
    [InlineData("--delete-server --drain 5 --tcp-service 198.51.100.100:80 --real-server 198.51.100.2")]
    [InlineData("-d -t vip.example.com:http -r rs1.example.com --drain 86400")]
    public void DeleteWithDrain_OtherSpellings_DrainTheSameRealServer(string args)
    {
        AdmHarness h = AdmHarness.Seed();
        var drains = new RecordingDrains();
        Assert.Equal(new AdmResult(0, "", ""), Run(h, drains, args));
        var call = Assert.Single(drains.Calls);
        Assert.Equal((Vip80, Rs1, (ushort)80), (call.Service, call.Address, call.Port));
    }

    [Theory]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 --drain 5", "Illegal 'drain' option with the 'add-server' command\n")]
    [InlineData("-e -t 198.51.100.100:80 -r 198.51.100.2 --drain 5", "Illegal 'drain' option with the 'edit-server' command\n")]
    [InlineData("-D -t 198.51.100.100:80 --drain 5", "Illegal 'drain' option with the 'delete-service' command\n")]
    [InlineData("-A -t 198.51.100.100:81 --drain 5", "Illegal 'drain' option with the 'add-service' command\n")]
    [InlineData("-L --drain 5", "Illegal 'drain' option with the 'list' command\n")]
    [InlineData("-C --drain 5", "Illegal 'drain' option with the 'flush' command\n")]
    [InlineData("-d -t 198.51.100.100:80 -r 198.51.100.2 --drain 0", "illegal drain timeout specified\n")]
    [InlineData("-d -t 198.51.100.100:80 -r 198.51.100.2 --drain 86401", "illegal drain timeout specified\n")]
    [InlineData("-d -t 198.51.100.100:80 -r 198.51.100.2 --drain -1", "illegal drain timeout specified\n")]
    [InlineData("-d -t 198.51.100.100:80 -r 198.51.100.2 --drain 5s", "illegal drain timeout specified\n")]
    [InlineData("-d -t 198.51.100.100:80 -r 198.51.100.2 --drain 5 --drain 6", "multiple 'drain' options specified\n")]
    [InlineData("-d -t 198.51.100.100:80 --drain 5", "You need to supply the 'real-server' option for the 'delete-server' command\n")]
    public void Drain_IllegalUseOrValue_ExitsTwoBeforeTouchingTheTable(string args, string stderr)
    {
        AdmHarness h = AdmHarness.Seed();
        var drains = new RecordingDrains();
        int before = h.Control.Calls;
        Assert.Equal(new AdmResult(2, "", stderr), Run(h, drains, args));
        Assert.Equal(before, h.Control.Calls);
        Assert.Empty(drains.Calls);
        Assert.False(Ipvsadm.NeedsDirector(AdmHarness.Split(args), () => AdmHarness.Names));
    }

    [Fact]
    public void Drain_MissingOption_PoptSaysMissingArgument()
    {
        AdmResult r = Run(AdmHarness.Seed(), new RecordingDrains(), "-d -t 198.51.100.100:80 -r 198.51.100.2 --drain");
        Assert.Equal(new AdmResult(255, "", "--drain: missing argument\n"), r);
    }

    [Theory]
    [InlineData("-d -t 198.51.100.100:81 -r 198.51.100.2 --drain 5", "Service not defined\n")]
    [InlineData("-d -t 198.51.100.100:80 -r 198.51.100.9 --drain 5", "No such destination\n")]
    [InlineData("-d -t 198.51.100.100:80 -r 198.51.100.2:8080 --drain 5", "No such destination\n")]
    public void Drain_UnknownServiceOrDest_FailsAsDeleteWould(string args, string stderr)
    {
        AdmHarness h = AdmHarness.Seed();
        var drains = new RecordingDrains();
        Assert.Equal(new AdmResult(255, "", stderr), Run(h, drains, args));
        Assert.Empty(drains.Calls);
        Assert.Equal(1, Dest(h.Control, Rs1)!.Spec.Weight);
    }

    [Fact]
    public void Drain_WithoutAScheduler_RefusesAndLeavesTheRealServer()
    {
        AdmHarness h = AdmHarness.Seed();
        AdmResult r = h.Run(AdmHarness.Split("-d -t 198.51.100.100:80 -r 198.51.100.2 --drain 5"));
        Assert.Equal(new AdmResult(255, "", "fulcrum: --drain needs a running director\n"), r);
        Assert.Equal(1, Dest(h.Control, Rs1)!.Spec.Weight);
    }

    [Fact]
    public void NeedsDirector_ValidDrain_True() =>
        Assert.True(Ipvsadm.NeedsDirector(AdmHarness.Split("-d -t 198.51.100.100:80 -r 198.51.100.2 --drain 5"), () => AdmHarness.Names));

    [Fact]
    public void Help_DoesNotMentionDrain()
    {
        AdmResult r = Run(new AdmHarness(), null, "-h");
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("drain", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Scheduler_ConnectionsEnd_DeletesOnTheNextPoll()
    {
        var (h, time, drains, results) = Draining(active: 2, inactive: 1);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.NotNull(Dest(h.Control, Rs1));
        Assert.Equal(1, drains.Pending);

        h.Control.SetDestCounters(Vip80, Rs1, 80, active: 0, inactive: 1);
        time.Advance(DrainScheduler.PollInterval);
        Assert.NotNull(Dest(h.Control, Rs1));

        h.Control.SetDestCounters(Vip80, Rs1, 80, active: 0, inactive: 0);
        time.Advance(DrainScheduler.PollInterval);
        Assert.Null(Dest(h.Control, Rs1));
        Assert.NotNull(Dest(h.Control, Rs2));
        Assert.Equal([new DrainResult(Vip80, Rs1, 80, DrainOutcome.Drained, 0)], results);
        Assert.Equal(0, drains.Pending);
    }

    [Fact]
    public void Scheduler_DeadlinePasses_DeletesDespiteConnections()
    {
        var (h, time, _, results) = Draining(active: 1, inactive: 0);
        time.Advance(TimeSpan.FromSeconds(29.5));
        Assert.NotNull(Dest(h.Control, Rs1));
        time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Null(Dest(h.Control, Rs1));
        Assert.Equal([new DrainResult(Vip80, Rs1, 80, DrainOutcome.DeadlinePassed, 1)], results);
    }

    [Fact]
    public void Scheduler_WeightGivenBack_CancelsAndKeepsTheRealServer()
    {
        var (h, time, drains, results) = Draining(active: 1, inactive: 0);
        h.Ok("-e -t 198.51.100.100:80 -r 198.51.100.2 -w 3");
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(3, Dest(h.Control, Rs1)!.Spec.Weight);
        Assert.Equal([new DrainResult(Vip80, Rs1, 80, DrainOutcome.Cancelled, 0)], results);
        Assert.Equal(0, drains.Pending);
    }

    [Fact]
    public void Scheduler_ServiceDeletedMeanwhile_EndsAsGone()
    {
        var (h, time, _, results) = Draining(active: 1, inactive: 0);
        h.Ok("-D -t 198.51.100.100:80");
        time.Advance(DrainScheduler.PollInterval);
        Assert.Equal([new DrainResult(Vip80, Rs1, 80, DrainOutcome.Gone, 0)], results);
    }

    [Fact]
    public void Scheduler_SecondDrain_ReplacesTheDeadline()
    {
        var (h, time, drains, _) = Draining(active: 1, inactive: 0);
        time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(new AdmResult(0, "", ""), Run(h, drains, "-d -t 198.51.100.100:80 -r 198.51.100.2 --drain 60"));
        time.Advance(TimeSpan.FromSeconds(20));
        Assert.NotNull(Dest(h.Control, Rs1));
        Assert.Equal(1, drains.Pending);
        time.Advance(TimeSpan.FromSeconds(40));
        Assert.Null(Dest(h.Control, Rs1));
    }

    private static (AdmHarness H, FakeTimeProvider Time, DrainScheduler Drains, List<DrainResult> Results) Draining(uint active, uint inactive)
    {
        AdmHarness h = AdmHarness.Seed();
        h.Control.SetDestCounters(Vip80, Rs1, 80, active, inactive);
        var time = new FakeTimeProvider();
        var drains = new DrainScheduler(h.Control, time);
        var results = new List<DrainResult>();
        drains.Completed += results.Add;
        Assert.Equal(new AdmResult(0, "", ""), Run(h, drains, "-d -t 198.51.100.100:80 -r 198.51.100.2 --drain 30"));
        Assert.Equal(0, Dest(h.Control, Rs1)!.Spec.Weight);
        return (h, time, drains, results);
    }

    private static AdmResult Run(AdmHarness h, IDrainScheduler? drains, string args) =>
        Ipvsadm.Run(AdmHarness.Split(args), TextReader.Null, h.Control, "ipvsadm", () => AdmHarness.Names, drains);

    private static DestInfo? Dest(FakeIpvsControl control, IPAddress address)
    {
        ServiceInfo? svc = control.GetService(Vip80);
        if (svc is null)
            return null;
        foreach (DestInfo d in svc.Dests)
        {
            if (d.Spec.Address.Equals(address))
                return d;
        }
        return null;
    }

    private sealed class RecordingDrains : IDrainScheduler
    {
        public List<(ServiceKey Service, IPAddress Address, ushort Port, TimeSpan Timeout)> Calls { get; } = [];

        public void Drain(ServiceKey service, IPAddress address, ushort port, TimeSpan timeout) =>
            Calls.Add((service, address, port, timeout));
    }
}
