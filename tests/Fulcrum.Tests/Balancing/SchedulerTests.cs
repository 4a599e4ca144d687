using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Packets;
using Microsoft.Extensions.Time.Testing;
using static Fulcrum.Tests.Balancing.Lab;

namespace Fulcrum.Tests.Balancing;

public class SchedulerTests
{
    private readonly FakeTimeProvider _time = new();
    private ushort _port = 10000;

    /// <summary>Where the next few new connections go, by last octet of the real server.</summary>
    private string Sequence(IpvsTable t, Balancer w, int count)
    {
        var picks = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var dest = w.Send(t, Tcp(_port++, Syn), out var verdict, out _);
            picks.Add(verdict == BalanceVerdict.Forward ? Name(dest!.Address) : "-");
        }
        return string.Join(" ", picks);
    }

    private static string Name(IPAddress a) => a.Equals(Rs1) ? "A" : a.Equals(Rs2) ? "B" : a.Equals(Rs3) ? "C" : a.ToString();

    [Fact]
    public void Rr_ThreeDests_NewestFirstThenCycles()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1), (Rs2, 1), (Rs3, 1)]);
        // The kernel's list is C B A (list_add at the head); rr starts at the head.
        Assert.Equal("C B A C B A C B A", Sequence(t, t.CreateWorker(0), 9));
    }

    [Fact]
    public void Rr_ThirtyConnections_TenEach()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1), (Rs2, 1), (Rs3, 1)]);
        var counts = Sequence(t, t.CreateWorker(0), 30).Split(' ').GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(10, counts["A"]);
        Assert.Equal(10, counts["B"]);
        Assert.Equal(10, counts["C"]);
    }

    [Fact]
    public void Rr_WeightIgnoredExceptZero()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 5), (Rs2, 0), (Rs3, 1)]);
        Assert.Equal("C A C A", Sequence(t, t.CreateWorker(0), 4));
    }

    [Fact]
    public void Rr_AddDest_PositionKept()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1), (Rs2, 1)]);
        var w = t.CreateWorker(0);
        Assert.Equal("B", Sequence(t, w, 1));

        t.AddDest(Tcp80, new DestSpec(Rs3, 80)); // list now C B A; position stays at B

        Assert.Equal("A C B A", Sequence(t, w, 4));
    }

    [Fact]
    public void Rr_DeleteCurrentDest_ContinuesAfterItsPredecessor()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1), (Rs2, 1), (Rs3, 1)]);
        var w = t.CreateWorker(0);
        Assert.Equal("C B", Sequence(t, w, 2));

        t.DeleteDest(Tcp80, Rs2, 80); // ip_vs_rr_del_dest: back to C, so A is next

        Assert.Equal("A C A", Sequence(t, w, 3));
    }

    [Fact]
    public void Rr_AllQuiesced_NoRealServer()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 0), (Rs2, 0)]);
        t.CreateWorker(0).Send(t, Tcp(1, Syn), out var verdict, out var reason);
        Assert.Equal(BalanceVerdict.Drop, verdict);
        Assert.Equal(DropReason.NoRealServer, reason);
    }

    [Fact]
    public void Rr_NoDests_NoRealServer()
    {
        var t = Table(_time, "rr", Tcp80);
        t.CreateWorker(0).Send(t, Tcp(1, Syn), out var verdict, out var reason);
        Assert.Equal(BalanceVerdict.Drop, verdict);
        Assert.Equal(DropReason.NoRealServer, reason);
    }

    [Fact]
    public void Wrr_432_KernelSequence()
    {
        // Added C, B, A so the kernel's list is A(4) B(3) C(2): cw runs 4, 3, 2, 1 over it.
        var t = Table(_time, "wrr", Tcp80, dests: [(Rs3, 2), (Rs2, 3), (Rs1, 4)]);
        Assert.Equal("A A B A B C A B C A A B A B C A B C", Sequence(t, t.CreateWorker(0), 18));
    }

    [Fact]
    public void Wrr_432_AddedInOrder_KernelSequence()
    {
        // Added A(4), B(3), C(2): the list is C B A.
        var t = Table(_time, "wrr", Tcp80, dests: [(Rs1, 4), (Rs2, 3), (Rs3, 2)]);
        Assert.Equal("A B A C B A C B A", Sequence(t, t.CreateWorker(0), 9));
    }

    [Fact]
    public void Wrr_GcdStepping_42()
    {
        // List A(4) B(2): di = 2, mw = 4 - (2 - 1) = 3, so cw runs 3 then 1.
        var t = Table(_time, "wrr", Tcp80, dests: [(Rs2, 2), (Rs1, 4)]);
        Assert.Equal("A A B A A B", Sequence(t, t.CreateWorker(0), 6));
    }

    [Fact]
    public void Wrr_EqualWeights_RoundRobin()
    {
        var t = Table(_time, "wrr", Tcp80, dests: [(Rs3, 5), (Rs2, 5), (Rs1, 5)]);
        Assert.Equal("A B C A B C", Sequence(t, t.CreateWorker(0), 6));
    }

    [Fact]
    public void Wrr_WeightRaisedMidCycle_DestChangedRestartsFromHead()
    {
        var t = Table(_time, "wrr", Tcp80, dests: [(Rs3, 2), (Rs2, 3), (Rs1, 4)]);
        var w = t.CreateWorker(0);
        Assert.Equal("A A B", Sequence(t, w, 3)); // cw = 3 now

        // ip_vs_wrr_dest_changed: cl back to the head, mw = 6, cw 3 stays (<= mw, di = 1).
        t.EditDest(Tcp80, new DestSpec(Rs3, 80, Weight: 6));

        Assert.Equal("A B C A B C A B C C C A C A B C", Sequence(t, w, 16));
    }

    [Fact]
    public void Wrr_WeightsChangeGcd_CwRoundedToNewStep()
    {
        // List A(4) B(2) C(2): di 2, mw 3.
        var t = Table(_time, "wrr", Tcp80, dests: [(Rs3, 2), (Rs2, 2), (Rs1, 4)]);
        var w = t.CreateWorker(0);
        Assert.Equal("A", Sequence(t, w, 1)); // cw = 3

        // A to 6: di 2, mw = 6 - 1 = 5; cw 3 <= 5 and di > 1: cw = (3 / 2) * 2 + 1 = 3.
        t.EditDest(Tcp80, new DestSpec(Rs1, 80, Weight: 6));

        Assert.Equal("A A B C A A", Sequence(t, w, 6));
    }

    [Fact]
    public void Wrr_AllZero_NoRealServer()
    {
        var t = Table(_time, "wrr", Tcp80, dests: [(Rs1, 0), (Rs2, 0)]);
        Assert.Equal("- -", Sequence(t, t.CreateWorker(0), 2));
    }

    [Fact]
    public void Wrr_ZeroWeightDest_NeverPicked()
    {
        var t = Table(_time, "wrr", Tcp80, dests: [(Rs3, 0), (Rs2, 1), (Rs1, 2)]);
        Assert.Equal("A A B A A B", Sequence(t, t.CreateWorker(0), 6));
    }

    [Fact]
    public void Wrr_AllOverloaded_NoRealServer()
    {
        var t = Table(_time, "wrr", Tcp80, dests: [(Rs2, 1), (Rs1, 2)]);
        t.EditDest(Tcp80, new DestSpec(Rs1, 80, Weight: 2, UpperThreshold: 1));
        t.EditDest(Tcp80, new DestSpec(Rs2, 80, Weight: 1, UpperThreshold: 1));
        var w = t.CreateWorker(0);

        Assert.Equal("A B - -", Sequence(t, w, 4));
    }

    [Fact]
    public void Wlc_AllIdle_FirstInListWins()
    {
        var t = Table(_time, "wlc", Tcp80, dests: [(Rs1, 1), (Rs2, 1), (Rs3, 1)]);
        Assert.Equal("C", Sequence(t, t.CreateWorker(0), 1));
    }

    [Fact]
    public void Wlc_EqualWeights_SpreadsByActiveConnections()
    {
        var t = Table(_time, "wlc", Tcp80, dests: [(Rs1, 1), (Rs2, 1), (Rs3, 1)]);
        // Each SYN makes its connection active at once (SYN_RECV is active), so the least loaded moves on.
        Assert.Equal("C B A C B A", Sequence(t, t.CreateWorker(0), 6));
    }

    [Fact]
    public void Wlc_Weights_ProportionalShare()
    {
        var t = Table(_time, "wlc", Tcp80, dests: [(Rs1, 3), (Rs2, 1)]);
        var counts = Sequence(t, t.CreateWorker(0), 40).Split(' ').GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(30, counts["A"]);
        Assert.Equal(10, counts["B"]);
    }

    [Fact]
    public void Wlc_ActiveWeighs256Inactive()
    {
        var t = Table(_time, "wlc", Tcp80, dests: [(Rs2, 1), (Rs1, 1)]); // list A B
        var w = t.CreateWorker(0);
        var a = t.Snapshot.Services[0].Dests[0];
        var b = t.Snapshot.Services[0].Dests[1];
        a.Counters.Slot(0).ActiveConns = 1;     // overhead 256
        b.Counters.Slot(0).InactiveConns = 255; // overhead 255
        Assert.Equal("B", Sequence(t, w, 1));    // B now 1 active + 255 inactive = 511

        b.Counters.Slot(0).ActiveConns = 0;
        b.Counters.Slot(0).InactiveConns = 256; // a tie at 256: the earlier dest stays
        Assert.Equal("A", Sequence(t, w, 1));
    }

    [Fact]
    public void Wlc_ComparesOverheadTimesWeight()
    {
        var t = Table(_time, "wlc", Tcp80, dests: [(Rs2, 1), (Rs1, 2)]); // list A(2) B(1)
        var w = t.CreateWorker(0);
        var a = t.Snapshot.Services[0].Dests[0];
        var b = t.Snapshot.Services[0].Dests[1];
        a.Counters.Slot(0).ActiveConns = 2; // 512 / 2
        b.Counters.Slot(0).ActiveConns = 1; // 256 / 1: equal load, A first
        Assert.Equal("A", Sequence(t, w, 1));

        a.Counters.Slot(0).ActiveConns = 2;
        a.Counters.Slot(0).InactiveConns = 2; // A 514 / 2 = 257 > B 256
        Assert.Equal("B", Sequence(t, w, 1));
    }

    [Fact]
    public void Wlc_ZeroWeightFirst_SkippedAndNeverPicked()
    {
        var t = Table(_time, "wlc", Tcp80, dests: [(Rs2, 1), (Rs1, 0)]); // list A(0) B(1)
        Assert.Equal("B B B", Sequence(t, t.CreateWorker(0), 3));
    }

    [Fact]
    public void Wlc_CountsSummedOverWorkers()
    {
        var t = Table(_time, "wlc", Tcp80, workers: 2, dests: [(Rs2, 1), (Rs1, 1)]); // list A B
        var w0 = t.CreateWorker(0);
        var w1 = t.CreateWorker(1);
        Assert.Equal("A", Name(w0.Open(t, 1).Address));
        // Worker 1 sees worker 0's active connection on A.
        Assert.Equal("B", Name(w1.Open(t, 2).Address));
    }

    [Fact]
    public void EditService_OtherScheduler_TakesEffect()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1), (Rs2, 3)]);
        var w = t.CreateWorker(0);
        Assert.Equal("B A B A", Sequence(t, w, 4));

        t.EditService(new ServiceSpec(Tcp80, "wrr"));

        Assert.Equal("B B B A", Sequence(t, w, 4));
    }
}
