using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Director;
using Fulcrum.Linux.Bpf;
using Microsoft.Extensions.Time.Testing;
using static Fulcrum.Tests.Balancing.Lab;

namespace Fulcrum.Tests.Director;

/// <summary>What the kernel tier may schedule itself, and the sequence it walks (Director/KernelScheduling).</summary>
public class KernelSchedulingTests
{
    private readonly FakeTimeProvider _time = new();

    private VirtualService Service(string scheduler, (IPAddress Address, int Weight)[] dests, uint persistence = 0,
        ForwardingMethod method = ForwardingMethod.DirectRoute, uint upperThreshold = 0, bool macs = true,
        SchedulerFlags flags = SchedulerFlags.None)
    {
        var t = new IpvsTable(_time);
        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(Tcp80, scheduler, flags, PersistenceTimeout: persistence)));
        foreach (var (address, weight) in dests)
            Assert.Equal(IpvsErrno.Ok, t.AddDest(Tcp80, new DestSpec(address, 80, method, weight, upperThreshold)));
        var svc = t.Snapshot.Services.Single();
        if (macs)
        {
            foreach (var d in svc.DestArray)
                d.Mac = 0x02_00_00_00_00_00UL | d.Address4;
        }

        return svc;
    }

    private static string[] Names(KernelSlot[] slots) =>
        slots.Select(s => $"{(s.Address >> 24) & 0xFF}.{(s.Address >> 16) & 0xFF}.{(s.Address >> 8) & 0xFF}.{s.Address & 0xFF}").ToArray();

    [Fact]
    public void RoundRobin_OneSlotPerDest_InTheKernelsListOrder_ContinuingAfterTheLastPick()
    {
        var svc = Service("rr", [(Rs1, 1), (Rs2, 1), (Rs3, 1)]);
        // The kernel links a new dest at the head: rs3, rs2, rs1 is the list, and a fresh rr starts at its head.
        Assert.Equal(["198.51.100.4", "198.51.100.3", "198.51.100.2"], Names(KernelScheduling.Sequence(svc)));
        var rs3 = svc.DestArray[0];
        Assert.Equal(["198.51.100.3", "198.51.100.2", "198.51.100.4"], Names(KernelScheduling.Sequence(svc, last: rs3)));
        Assert.Equal(0x02_00_C6_33_64_03UL, KernelScheduling.Sequence(svc, last: rs3)[0].Mac);
    }

    [Fact]
    public void RoundRobin_WeightZeroSkipped()
    {
        var svc = Service("rr", [(Rs1, 1), (Rs2, 0), (Rs3, 1)]);
        // One round of rr skips the weight-0 dest: each usable dest once, so every round is even.
        Assert.Equal(["198.51.100.4", "198.51.100.2"], Names(KernelScheduling.Sequence(svc)));
    }

    [Fact]
    public void WeightedRoundRobin_OneWholeCycle_AsTheCSharpSchedulerPicks()
    {
        var svc = Service("wrr", [(Rs1, 3), (Rs2, 2), (Rs3, 1)]);
        var slots = Names(KernelScheduling.Sequence(svc));
        Assert.Equal(6, slots.Length);
        Assert.Equal(3, slots.Count(s => s == "198.51.100.2"));
        Assert.Equal(2, slots.Count(s => s == "198.51.100.3"));
        Assert.Equal(1, slots.Count(s => s == "198.51.100.4"));

        // The same picks a worker's wrr makes from the start.
        var t = Table(_time, "wrr", Tcp80, dests: [(Rs1, 3), (Rs2, 2), (Rs3, 1)]);
        var w = t.CreateWorker(0);
        var picks = Enumerable.Range(0, 6).Select(i => w.Open(t, (ushort)(50000 + i)).Address.ToString()).ToArray();
        Assert.Equal(picks, slots);
    }

    [Theory]
    [InlineData("lblc")]
    [InlineData("lblcr")]
    [InlineData("ovf")]
    [InlineData("twos")]
    public void SchedulersThatHashOtherwiseOrKeepTheirOwnState_StayWithCSharp(string scheduler) =>
        Assert.Empty(KernelScheduling.Table(Service(scheduler, [(Rs1, 1), (Rs2, 1)])).Slots);

    [Theory]
    [InlineData("lc", KernelPick.LeastConnection)]
    [InlineData("wlc", KernelPick.WeightedLeastConnection)]
    [InlineData("sed", KernelPick.ShortestExpectedDelay)]
    [InlineData("nq", KernelPick.NeverQueue)]
    public void LeastConnectionFamily_EveryDestInListOrder_WithWeightAndSharedCountId(string scheduler, KernelPick expected)
    {
        var svc = Service(scheduler, [(Rs1, 3), (Rs2, 0), (Rs3, 1)]);
        var (slots, pick) = KernelScheduling.Table(svc);
        Assert.Equal(expected, pick);
        // The scheduler's own list (the kernel links a new dest at the head), weight 0 included: the program skips it.
        Assert.Equal(svc.DestSet.Dests.Select(d => d.Address4), slots.Select(s => s.Address));
        Assert.Equal(svc.DestSet.Dests.Select(d => d.Weight), slots.Select(s => s.Weight));
        Assert.Equal(svc.DestSet.Dests.Select(d => d.KernelId), slots.Select(s => s.DestId));
        Assert.All(slots, s => Assert.NotEqual(0u, s.DestId));
        Assert.Equal(3, slots.Select(s => s.DestId).Distinct().Count());
    }

    [Theory]
    [InlineData("dh")]
    [InlineData("fo")]
    public void DestinationHashingAndFailover_OneSlot_TheRealServerTheCSharpSchedulerPicksForTheVip(string scheduler)
    {
        var svc = Service(scheduler, [(Rs1, 1), (Rs2, 3), (Rs3, 2)]);
        var slot = Assert.Single(KernelScheduling.Table(svc).Slots);
        var t = Table(_time, scheduler, Tcp80, dests: [(Rs1, 1), (Rs2, 3), (Rs3, 2)]);
        var w = t.CreateWorker(0);
        for (ushort port = 50000; port < 50010; port++)
            Assert.Equal(slot.Address, U32(w.Open(t, port).Address));
        Assert.NotEqual(0u, slot.DestId);

        // Its dest quiesced: nothing for the kernel (dh drops in C#, fo moves to the next heaviest at the next publish).
        var picked = svc.DestArray.Single(d => d.Address4 == slot.Address);
        picked.Weight = 0;
        var after = KernelScheduling.Table(svc).Slots;
        if (scheduler == "dh")
            Assert.Empty(after);
        else
            Assert.NotEqual(slot.Address, Assert.Single(after).Address);
    }

    [Fact]
    public void LeastConnection_AnUnresolvedMacThatCouldWin_KeepsTheServiceWithCSharp()
    {
        var svc = Service("wlc", [(Rs1, 1), (Rs2, 1)]);
        svc.DestArray[0].Mac = 0;
        Assert.Empty(KernelScheduling.Table(svc).Slots);
        // Weight 0 cannot win: its MAC does not matter.
        svc.DestArray[0].Weight = 0;
        Assert.Equal(2, KernelScheduling.Table(svc).Slots.Length);
    }

    [Fact]
    public void LeastConnection_MoreDestsThanTheProgramWalks_StaysWithCSharp()
    {
        var many = Enumerable.Range(1, KernelTier.LeastMax + 1).Select(i => (IPAddress.Parse($"198.51.100.{i + 10}"), 1)).ToArray();
        Assert.Empty(KernelScheduling.Table(Service("wlc", many)).Slots);
        Assert.Equal(KernelTier.LeastMax, KernelScheduling.Table(Service("wlc", many[..KernelTier.LeastMax])).Slots.Length);
    }

    [Fact]
    public void SequenceAndBuckets_CarryTheSharedCountIds_SoTheProgramCountsWhatItSchedules()
    {
        var rr = Service("rr", [(Rs1, 1), (Rs2, 1)]);
        Assert.All(KernelScheduling.Sequence(rr), s => Assert.Contains(rr.DestArray, d => d.KernelId == s.DestId && d.Address4 == s.Address));
        var sh = Service("sh", [(Rs1, 1), (Rs2, 1)]);
        Assert.All(KernelScheduling.SourceBuckets(sh), s => Assert.Contains(sh.DestArray, d => d.KernelId == s.DestId && d.Address4 == s.Address));
    }

    [Fact]
    public void SourceHashing_The256Buckets_AsTheCSharpSchedulerIndexesThem()
    {
        var svc = Service("sh", [(Rs1, 1), (Rs2, 2)]);
        var (slots, pick) = KernelScheduling.Table(svc);
        Assert.Equal(KernelPick.SourceHash, pick);
        Assert.Equal(256, slots.Length);
        // Every client's bucket names the dest the C# scheduler picks for it.
        for (uint client = 0xCB007100; client < 0xCB007100 + 64; client++)
        {
            var slot = slots[SourceHashingSchedulerBucket(client)];
            var expected = svc.DestArray.Single(d => d.Address4 == slot.Address);
            Assert.Equal(expected.Mac, slot.Mac);
        }

        Assert.Equal(KernelPick.SourceAndPortHash, KernelScheduling.Table(Service("sh", [(Rs1, 1)], flags: SchedulerFlags.Flag2)).Pick);
    }

    [Fact]
    public void Maglev_TheLookupTable_AsTheCSharpSchedulerIndexesIt_UnusableEntriesZero()
    {
        var svc = Service("mh", [(Rs1, 1), (Rs2, 2), (Rs3, 1)]);
        svc.DestArray.Single(d => d.Address4 == U32(Rs3)).Weight = 0; // quiesced: keeps its entries, unusable
        var (slots, pick) = KernelScheduling.Table(svc);
        Assert.Equal(KernelPick.Maglev, pick);
        Assert.Equal(Fulcrum.Balancing.Schedulers.MaglevTable.SizeFor(Fulcrum.Balancing.Schedulers.MaglevTable.DefaultTableIndex), slots.Length);
        Assert.Contains(slots, s => s.Mac == 0 && s.Address == U32(Rs3));

        // Every client's first probe names the dest the C# scheduler picks for it (or a zero MAC where it falls back).
        var t = Table(_time, "mh", Tcp80, dests: [(Rs1, 1), (Rs2, 2), (Rs3, 1)]);
        Assert.Equal(IpvsErrno.Ok, t.EditDest(Tcp80, new DestSpec(Rs3, 80, ForwardingMethod.DirectRoute, 0)));
        var w = t.CreateWorker(0);
        for (uint client = 0xCB007100; client < 0xCB007100 + 64; client++)
        {
            uint index = Fulcrum.Balancing.Schedulers.MaglevTable.HashKey(client, 0, Fulcrum.Balancing.Schedulers.MaglevTable.Hash1Key, 0) % (uint)slots.Length;
            var slot = slots[index];
            if (slot.Mac == 0)
                continue;
            var picked = w.Open(t, 50000, new IPAddress(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(client)));
            Assert.Equal(slot.Address, U32(picked.Address));
        }

        Assert.Equal(KernelPick.MaglevAndPort, KernelScheduling.Table(Service("mh", [(Rs1, 1)], flags: SchedulerFlags.Flag2)).Pick);
    }

    private static int SourceHashingSchedulerBucket(uint client) =>
        (int)Fulcrum.Balancing.Schedulers.SourceHashingScheduler.Bucket(client, 0, 0);

    [Fact]
    public void SourceHashing_AWeightZeroDestsBuckets_ComeUpToCSharp()
    {
        var svc = Service("sh", [(Rs1, 0), (Rs2, 1)]);
        var slots = KernelScheduling.Table(svc).Slots;
        Assert.Equal(256, slots.Length);
        uint rs1 = svc.DestArray.Single(d => d.Weight == 0).Address4;
        Assert.Contains(slots, s => s.Address == rs1);
        Assert.All(slots.Where(s => s.Address == rs1), s => Assert.Equal(0UL, s.Mac)); // sh-fallback or the drop: C#'s
        Assert.All(slots.Where(s => s.Address != rs1), s => Assert.NotEqual(0UL, s.Mac));
        Assert.Empty(KernelScheduling.Table(Service("sh", [(Rs1, 0)])).Slots);
    }

    [Fact]
    public void Persistence_Thresholds_NatDests_UnknownMacs_StayWithCSharp()
    {
        Assert.Empty(KernelScheduling.Sequence(Service("rr", [(Rs1, 1)], persistence: 300)));
        Assert.Empty(KernelScheduling.Sequence(Service("rr", [(Rs1, 1)], upperThreshold: 10)));
        Assert.Empty(KernelScheduling.Sequence(Service("rr", [(Rs1, 1)], method: ForwardingMethod.Masquerade)));
        Assert.Empty(KernelScheduling.Sequence(Service("rr", [(Rs1, 1)], macs: false)));
        Assert.Empty(KernelScheduling.Sequence(Service("rr", [(Rs1, 0)])));
    }

    [Fact]
    public void AWrrCycleLongerThanTheTable_StaysWithCSharp()
    {
        // Coprime weights: a cycle of 4000 + 3999 picks.
        Assert.Empty(KernelScheduling.Sequence(Service("wrr", [(Rs1, 4000), (Rs2, 3999)])));
    }

    [Fact]
    public void IsRotation_SameRoundFromAnotherPlace()
    {
        KernelSlot a = new(1, 1, 80), b = new(2, 2, 80), c = new(3, 3, 80);
        Assert.True(KernelScheduling.IsRotation([a, b, c], [b, c, a]));
        Assert.True(KernelScheduling.IsRotation([a, b, c], [a, b, c]));
        Assert.False(KernelScheduling.IsRotation([a, b, c], [a, c, b]));
        Assert.False(KernelScheduling.IsRotation([a, b, c], [a, b]));
    }
}
