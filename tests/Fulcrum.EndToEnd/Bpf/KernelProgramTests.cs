using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Linux.Bpf;
using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.EndToEnd.Bpf;

/// <summary>
/// The kernel tier's decisions on in-memory frames, run by the kernel itself (BPF_PROG_TEST_RUN on the loaded,
/// verified object, not attached anywhere): an installed flow is rewritten to its real server's MAC and sent on
/// (tc: TC_ACT_REDIRECT, XDP: XDP_TX), counted in the map and moved along the IPVS state table; a published rr
/// service's SYNs are scheduled in turn and reported on the event ring; what the C# state machine must run goes
/// up unchanged (TC_ACT_OK / XDP_PASS). Needs root (CAP_BPF), as the director does.
/// </summary>
/// <remarks>
/// fulcrum_filter is not run here: BPF_PROG_TEST_RUN hands a socket filter the frame from its network header,
/// where AF_PACKET hands it from the MAC header, so the test would not show what the ring sees. Its decision is
/// fulcrum_decide, the same function both programs below use; KernelTierTests cover it on a live ring.
/// </remarks>
public sealed class KernelProgramTests : IDisposable
{
    private const uint TcActOk = 0;
    private const uint TcActRedirect = 7;
    private const uint XdpPass = 2;
    private const uint XdpTx = 3;

    private static readonly ulong DirectorMac = FrameBuilder.Mac("02:00:c6:33:64:0b");
    private static readonly ulong ClientRouterMac = FrameBuilder.Mac("02:00:c6:33:64:01");
    private static readonly ulong RealServerMac = FrameBuilder.Mac("02:00:c6:33:64:02");
    private static readonly uint Client = FrameBuilder.Ip("203.0.113.10");
    private static readonly uint Vip = FrameBuilder.Ip("198.51.100.100");

    private readonly KernelTier _tier;
    private readonly byte[] _out = new byte[2048];

    public KernelProgramTests()
    {
        Root.Require();
        _tier = KernelTier.OpenDetached(DirectorMac);
    }

    public void Dispose()
    {
        _ring?.Dispose();
        _tier.Dispose();
    }

    private KernelEventRing? _ring;

    /// <summary>One worker's event ring for the program, and a lease long enough for the test (a live daemon).</summary>
    private KernelEventRing EventRing()
    {
        _ring ??= _tier.OpenEventRings(1, 32)[0];
        _tier.RenewLease(TimeSpan.FromMinutes(1));
        return _ring;
    }

    [Theory]
    [InlineData("fulcrum_tc", TcActRedirect)]
    [InlineData("fulcrum_xdp", XdpTx)]
    public void InstalledUdpFlow_RewrittenToTheRealServersMac_CountedInTheMap(string program, uint forwarded)
    {
        Assert.True(_tier.Install(IpProtocols.Udp, Client, 40000, Vip, 53, RealServerMac));
        var frame = Udp(40000, 53, payload: 36);

        int n = _tier.TestRun(program, frame, _out, repeat: 1, out uint verdict, out _);

        Assert.Equal(forwarded, verdict);
        Assert.Equal(frame.Length, n);
        // LVS-DR: destination := the real server, source := the director; not one other byte changes.
        Assert.Equal(RealServerMac, EthernetFrame.ReadMac(_out));
        Assert.Equal(DirectorMac, EthernetFrame.ReadMac(_out.AsSpan(6)));
        Assert.True(frame.AsSpan(12).SequenceEqual(_out.AsSpan(12, n - 12)));
        Assert.True(_tier.TryRead(IpProtocols.Udp, Client, 40000, Vip, 53, out long packets, out long bytes, out _, out _, out _));
        Assert.Equal(1, packets);
        Assert.Equal(frame.Length - EthernetFrame.HeaderLength, bytes);
    }

    // IP_VS_TCP_S_* (the C# IpvsTcpState), as the program stores them.
    private const byte SynRecv = 3, Established = 1, FinWait = 4, TimeWait = 5;

    [Theory]
    [InlineData("fulcrum_tc", TcActRedirect)]
    [InlineData("fulcrum_xdp", XdpTx)]
    public void TcpFlowHeldFromItsSyn_TheHandshakesAck_IsForwarded_AndEstablishesIt(string program, uint forwarded)
    {
        Assert.True(_tier.Install(IpProtocols.Tcp, Client, 40001, Vip, 80, RealServerMac, SynRecv));
        _tier.TestRun(program, Tcp(40001, TcpFlags.Ack), _out, 1, out uint verdict, out _);
        Assert.Equal(forwarded, verdict);
        Assert.Equal(RealServerMac, EthernetFrame.ReadMac(_out));
        Assert.True(_tier.TryRead(IpProtocols.Tcp, Client, 40001, Vip, 80, out long packets, out _, out _, out byte state, out _));
        Assert.Equal((1, Established), (packets, state));

        // A segment with neither ACK nor FIN (tcp_state_idx -1) moves nothing.
        _tier.TestRun(program, Tcp(40001, TcpFlags.Psh), _out, 1, out verdict, out _);
        Assert.Equal(forwarded, verdict);
        Assert.True(_tier.TryRead(IpProtocols.Tcp, Client, 40001, Vip, 80, out packets, out _, out _, out state, out _));
        Assert.Equal((2, Established), (packets, state));
    }

    [Theory]
    [InlineData("fulcrum_tc", TcActRedirect, Established, FinWait)]
    [InlineData("fulcrum_xdp", XdpTx, Established, FinWait)]
    [InlineData("fulcrum_tc", TcActRedirect, SynRecv, TimeWait)]
    [InlineData("fulcrum_xdp", XdpTx, SynRecv, TimeWait)]
    public void TcpFin_IsForwarded_AndMovesTheStateAlongTheFinRow(string program, uint forwarded, byte from, byte to)
    {
        Assert.True(_tier.Install(IpProtocols.Tcp, Client, 40006, Vip, 80, RealServerMac, from));
        _tier.TestRun(program, Tcp(40006, TcpFlags.Fin | TcpFlags.Ack), _out, 1, out uint verdict, out _);
        Assert.Equal(forwarded, verdict);
        Assert.True(_tier.TryRead(IpProtocols.Tcp, Client, 40006, Vip, 80, out long packets, out _, out _, out byte state, out _));
        Assert.Equal((1, to), (packets, state));

        // The entry is a marker now: the connection's next segments go up to C#, untouched.
        _tier.TestRun(program, Tcp(40006, TcpFlags.Ack), _out, 1, out verdict, out _);
        Assert.NotEqual(forwarded, verdict);
        Assert.True(_tier.TryRead(IpProtocols.Tcp, Client, 40006, Vip, 80, out packets, out _, out _, out state, out _));
        Assert.Equal((1, to), (packets, state));
    }

    [Theory]
    [InlineData("fulcrum_tc", TcActOk, TcpFlags.Syn)]
    [InlineData("fulcrum_tc", TcActOk, TcpFlags.Rst)]
    [InlineData("fulcrum_tc", TcActOk, TcpFlags.Rst | TcpFlags.Ack)]
    [InlineData("fulcrum_xdp", XdpPass, TcpFlags.Syn)]
    [InlineData("fulcrum_xdp", XdpPass, TcpFlags.Rst)]
    [InlineData("fulcrum_xdp", XdpPass, TcpFlags.Rst | TcpFlags.Ack)]
    public void InstalledTcpFlow_SynRst_GoUpForTheStateMachine_Unchanged(string program, uint up, byte flags)
    {
        Assert.True(_tier.Install(IpProtocols.Tcp, Client, 40002, Vip, 80, RealServerMac, Established));
        var frame = Tcp(40002, flags);
        int n = _tier.TestRun(program, frame, _out, 1, out uint verdict, out _);
        Assert.Equal(up, verdict);
        Assert.True(frame.AsSpan().SequenceEqual(_out.AsSpan(0, n)));
        Assert.True(_tier.TryRead(IpProtocols.Tcp, Client, 40002, Vip, 80, out long packets, out _, out _, out byte state, out _));
        Assert.Equal((0, Established), (packets, state));
    }

    [Theory]
    [InlineData("fulcrum_tc", TcActOk)]
    [InlineData("fulcrum_xdp", XdpPass)]
    public void FramesTheTierMustNotForward_GoUp(string program, uint up)
    {
        Assert.True(_tier.Install(IpProtocols.Udp, Client, 40003, Vip, 53, RealServerMac));
        byte[][] frames =
        [
            Udp(40004, 53, payload: 8),                                                          // a new flow: C# schedules it
            new FrameBuilder().WithMacs(ClientRouterMac, RealServerMac).WithIpv4(Client, Vip).Udp(40003, 53).Build(), // not sent to this director
            new FrameBuilder().WithMacs(ClientRouterMac, DirectorMac).WithIpv4(Client, Vip).WithFragment(true, 0).Udp(40003, 53).Build(),
            new FrameBuilder().WithMacs(ClientRouterMac, DirectorMac).WithIpv4(Client, Vip).WithIpOptions(1).Udp(40003, 53).Build(),
            new FrameBuilder().WithMacs(ClientRouterMac, DirectorMac).WithIpv4(Client, Vip).Icmp(8, 0).Build(),
            new FrameBuilder().WithMacs(ClientRouterMac, DirectorMac).WithIpv6("2001:db8::10", "2001:db8::100").Udp(40003, 53).Build(),
        ];
        foreach (var frame in frames)
        {
            int n = _tier.TestRun(program, frame, _out, 1, out uint verdict, out _);
            Assert.Equal(up, verdict);
            Assert.True(frame.AsSpan().SequenceEqual(_out.AsSpan(0, n)));
        }

        Assert.True(_tier.TryRead(IpProtocols.Udp, Client, 40003, Vip, 53, out long packets, out _, out _, out _, out _));
        Assert.Equal(0, packets);
    }

    [Fact]
    public void RemovedFlow_GoesUpAgain_AndItsCountsAreHandedBack()
    {
        Assert.True(_tier.Install(IpProtocols.Udp, Client, 40005, Vip, 53, RealServerMac));
        var frame = Udp(40005, 53, payload: 8);
        _tier.TestRun("fulcrum_tc", frame, _out, repeat: 1, out _, out _);
        _tier.TestRun("fulcrum_tc", frame, _out, repeat: 1, out _, out _);

        Assert.True(_tier.Remove(IpProtocols.Udp, Client, 40005, Vip, 53, out long packets, out _, out _, out _, out _));
        Assert.Equal(2, packets);
        _tier.TestRun("fulcrum_tc", frame, _out, 1, out uint verdict, out _);
        Assert.Equal(TcActOk, verdict);
    }

    private static byte[] Udp(ushort clientPort, ushort port, int payload) =>
        new FrameBuilder().WithMacs(ClientRouterMac, DirectorMac).WithIpv4(Client, Vip).Udp(clientPort, port).WithPayload(payload).Build();

    private static readonly ulong Rs2Mac = FrameBuilder.Mac("02:00:c6:33:64:03");
    private static readonly uint Rs1 = FrameBuilder.Ip("198.51.100.2");
    private static readonly uint Rs2 = FrameBuilder.Ip("198.51.100.3");

    private sealed class Events : IKernelEventHandler
    {
        public readonly List<string> Seen = [];

        public void OnStateChanged(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, long packets, long bytes, long idleMs, byte state) =>
            Seen.Add($"state {clientPort} {packets} {state}");

        public void OnScheduled(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, uint destAddr, ushort destPort, long idleMs) =>
            Seen.Add($"scheduled {clientPort} {(destAddr == Rs1 ? "rs1" : destAddr == Rs2 ? "rs2" : "?")}:{destPort}");
    }

    [Theory]
    [InlineData("fulcrum_tc", TcActRedirect)]
    [InlineData("fulcrum_xdp", XdpTx)]
    public void PublishedRoundRobin_SynsScheduledInTheKernel_InTurn_AndToldToTheWorker(string program, uint forwarded)
    {
        var ring = EventRing();
        _tier.PublishSchedule(Vip, 80, [new KernelSlot(RealServerMac, Rs1, 80), new KernelSlot(Rs2Mac, Rs2, 80)]);
        var macs = new List<ulong>();
        for (ushort port = 41000; port < 41004; port++)
        {
            _tier.TestRun(program, Tcp(port, TcpFlags.Syn), _out, 1, out uint verdict, out _);
            Assert.Equal(forwarded, verdict);
            macs.Add(EthernetFrame.ReadMac(_out));
            Assert.True(_tier.TryRead(IpProtocols.Tcp, Client, port, Vip, 80, out long packets, out _, out _, out byte state, out _));
            Assert.Equal((1, SynRecv), (packets, state));
        }

        Assert.Equal([RealServerMac, Rs2Mac, RealServerMac, Rs2Mac], macs);
        var events = new Events();
        Assert.Equal(4, ring.Consume(events));
        Assert.Equal(["scheduled 41000 rs1:80", "scheduled 41001 rs2:80", "scheduled 41002 rs1:80", "scheduled 41003 rs2:80"], events.Seen);

        // A retransmitted SYN stays on its real server; a SYN|ACK or a SYN to an unpublished port goes up.
        _tier.TestRun(program, Tcp(41001, TcpFlags.Syn), _out, 1, out uint again, out _);
        Assert.Equal((forwarded, Rs2Mac), (again, EthernetFrame.ReadMac(_out)));
        _tier.TestRun(program, Tcp(41005, TcpFlags.Syn | TcpFlags.Ack), _out, 1, out uint synAck, out _);
        Assert.NotEqual(forwarded, synAck);
        _tier.TestRun(program, new FrameBuilder().WithMacs(ClientRouterMac, DirectorMac).WithIpv4(Client, Vip).Tcp(41006, 443, TcpFlags.Syn).Build(), _out, 1, out uint other, out _);
        Assert.NotEqual(forwarded, other);
        Assert.Equal(0, ring.Consume(events));

        // No lease (a daemon that died): new SYNs go up, however published.
        _tier.RenewLease(TimeSpan.Zero);
        _tier.TestRun(program, Tcp(41008, TcpFlags.Syn), _out, 1, out uint lapsed, out _);
        Assert.NotEqual(forwarded, lapsed);
        _tier.RenewLease(TimeSpan.FromMinutes(1));

        // Unpublished: new SYNs go up again.
        _tier.PublishSchedule(Vip, 80, []);
        _tier.TestRun(program, Tcp(41007, TcpFlags.Syn), _out, 1, out uint after, out _);
        Assert.NotEqual(forwarded, after);
    }

    [Theory]
    [InlineData("fulcrum_tc", TcActRedirect)]
    [InlineData("fulcrum_xdp", XdpTx)]
    public void PublishedSourceHashing_EachClientToItsBucket_AnUnusableBucketGoesUp(string program, uint forwarded)
    {
        var ring = EventRing();
        // Even buckets rs1, odd rs2, bucket 7 marked unusable (zero MAC).
        var slots = new KernelSlot[256];
        for (int i = 0; i < slots.Length; i++)
            slots[i] = i == 7 ? new KernelSlot(0, Rs2, 80) : new KernelSlot(i % 2 == 0 ? RealServerMac : Rs2Mac, i % 2 == 0 ? Rs1 : Rs2, 80);
        _tier.PublishSchedule(Vip, 80, slots, KernelPick.SourceHash);
        int checkedClients = 0, up = 0;
        for (uint client = FrameBuilder.Ip("203.0.113.1"); client < FrameBuilder.Ip("203.0.113.1") + 40; client++)
        {
            int bucket = (int)Fulcrum.Balancing.Schedulers.SourceHashingScheduler.Bucket(client, 0, 0);
            var frame = new FrameBuilder().WithMacs(ClientRouterMac, DirectorMac).WithIpv4(client, Vip).Tcp(42000, 80, TcpFlags.Syn).Build();
            _tier.TestRun(program, frame, _out, 1, out uint verdict, out _);
            if (bucket == 7)
            {
                Assert.NotEqual(forwarded, verdict);
                up++;
                continue;
            }

            Assert.Equal(forwarded, verdict);
            Assert.Equal(bucket % 2 == 0 ? RealServerMac : Rs2Mac, EthernetFrame.ReadMac(_out));
            checkedClients++;
        }

        Assert.True(checkedClients >= 30, $"{checkedClients} clients scheduled");
        var events = new Events();
        Assert.Equal(checkedClients, ring.Consume(events));
    }

    [Theory]
    [InlineData("fulcrum_tc", TcActRedirect, false)]
    [InlineData("fulcrum_xdp", XdpTx, false)]
    [InlineData("fulcrum_xdp", XdpTx, true)]
    public void PublishedMaglev_EachClientToItsLookupEntry_ByTheKernelsHsiphash(string program, uint forwarded, bool withPort)
    {
        var ring = EventRing();
        // M = 4093 entries: even ones rs1, odd ones rs2; every 7th unusable (zero MAC: mh-fallback is C#'s).
        const int M = 4093;
        var slots = new KernelSlot[M];
        for (int i = 0; i < M; i++)
            slots[i] = i % 7 == 0 ? new KernelSlot(0, Rs2, 80) : new KernelSlot(i % 2 == 0 ? RealServerMac : Rs2Mac, i % 2 == 0 ? Rs1 : Rs2, 80);
        _tier.PublishSchedule(Vip, 80, slots, withPort ? KernelPick.MaglevAndPort : KernelPick.Maglev);
        int scheduled = 0, up = 0;
        ushort clientPort = 42100;
        for (uint client = FrameBuilder.Ip("203.0.113.1"); client < FrameBuilder.Ip("203.0.113.1") + 60; client++, clientPort++)
        {
            uint index = Fulcrum.Balancing.Schedulers.MaglevTable.HashKey(client, withPort ? clientPort : (ushort)0,
                Fulcrum.Balancing.Schedulers.MaglevTable.Hash1Key, 0) % M;
            var frame = new FrameBuilder().WithMacs(ClientRouterMac, DirectorMac).WithIpv4(client, Vip).Tcp(clientPort, 80, TcpFlags.Syn).Build();
            _tier.TestRun(program, frame, _out, 1, out uint verdict, out _);
            if (index % 7 == 0)
            {
                Assert.NotEqual(forwarded, verdict);
                up++;
                continue;
            }

            Assert.Equal(forwarded, verdict);
            Assert.Equal(index % 2 == 0 ? RealServerMac : Rs2Mac, EthernetFrame.ReadMac(_out));
            scheduled++;
        }

        Assert.True(scheduled >= 40, $"{scheduled} clients scheduled, {up} up");
        Assert.Equal(scheduled, ring.Consume(new Events()));
    }

    [Theory]
    [InlineData("fulcrum_tc", TcActRedirect)]
    [InlineData("fulcrum_xdp", XdpTx)]
    public void FinHandsBack_ThenASynReusesTheMarkerInPlace(string program, uint forwarded)
    {
        var ring = EventRing();
        Assert.True(_tier.Install(IpProtocols.Tcp, Client, 41010, Vip, 80, RealServerMac, Established));
        _tier.TestRun(program, Tcp(41010, TcpFlags.Fin | TcpFlags.Ack), _out, 1, out uint verdict, out _);
        Assert.Equal(forwarded, verdict);
        // FIN_WAIT + SYN: the syn row, on the same real server (ip_vs_in reuses it with conn_reuse_mode 1).
        _tier.TestRun(program, Tcp(41010, TcpFlags.Syn), _out, 1, out verdict, out _);
        Assert.Equal((forwarded, RealServerMac), (verdict, EthernetFrame.ReadMac(_out)));
        var events = new Events();
        ring.Consume(events);
        Assert.Equal([$"state 41010 1 {FinWait}", $"state 41010 2 {SynRecv}"], events.Seen);
    }

    private static readonly ulong Rs3Mac = FrameBuilder.Mac("02:00:c6:33:64:04");
    private static readonly uint Rs3 = FrameBuilder.Ip("198.51.100.4");

    [Theory]
    [InlineData("fulcrum_tc", TcActRedirect, KernelPick.WeightedLeastConnection, 3)] // 512/1, 768/2, 261/1
    [InlineData("fulcrum_xdp", XdpTx, KernelPick.WeightedLeastConnection, 3)]
    [InlineData("fulcrum_tc", TcActRedirect, KernelPick.LeastConnection, 3)]         // 512, 768, 261
    [InlineData("fulcrum_tc", TcActRedirect, KernelPick.ShortestExpectedDelay, 2)]   // 3/1, 4/2, 2/1: the tie to the earlier
    [InlineData("fulcrum_xdp", XdpTx, KernelPick.NeverQueue, 2)]                     // nobody idle: as sed
    public void PublishedLeastConnection_PicksFromTheSharedCounts_AndMovesThem(string program, uint forwarded, KernelPick pick, int expected)
    {
        var ring = EventRing();
        const uint Id1 = 1001, Id2 = 1002, Id3 = 1003;
        // ActiveConn/InActConn as the workers and the program left them: rs1 2/0, rs2 3/0, rs3 1/5.
        _tier.MoveConns(Id1, 2, 0);
        _tier.MoveConns(Id2, 3, 0);
        _tier.MoveConns(Id3, 1, 5);
        _tier.PublishSchedule(Vip, 80,
            [new KernelSlot(RealServerMac, Rs1, 80, Id1, 1), new KernelSlot(Rs2Mac, Rs2, 80, Id2, 2), new KernelSlot(Rs3Mac, Rs3, 80, Id3, 1)], pick);
        ulong[] macs = [RealServerMac, Rs2Mac, Rs3Mac];
        uint[] ids = [Id1, Id2, Id3];
        var before = _tier.ReadConns(ids[expected - 1]);

        _tier.TestRun(program, Tcp(43000, TcpFlags.Syn), _out, 1, out uint verdict, out _);
        Assert.Equal((forwarded, macs[expected - 1]), (verdict, EthernetFrame.ReadMac(_out)));
        // Scheduled: one more active connection on the real server picked (SYN_RECV is active), told to the worker.
        Assert.Equal((before.Active + 1, before.Inactive), _tier.ReadConns(ids[expected - 1]));
        var events = new Events();
        Assert.Equal(1, ring.Consume(events));

        // Its FIN in SYN_RECV (the fin row: TIME_WAIT) moves it to InActConn, in the program.
        _tier.TestRun(program, Tcp(43000, TcpFlags.Fin | TcpFlags.Ack), _out, 1, out verdict, out _);
        Assert.Equal(forwarded, verdict);
        Assert.Equal((before.Active, before.Inactive + 1), _tier.ReadConns(ids[expected - 1]));

        if (pick == KernelPick.NeverQueue)
        {
            // An idle real server takes the next SYN at once, whatever its weight.
            _tier.MoveConns(Id3, -1, 0);
            _tier.TestRun(program, Tcp(43001, TcpFlags.Syn), _out, 1, out verdict, out _);
            Assert.Equal((forwarded, Rs3Mac), (verdict, EthernetFrame.ReadMac(_out)));
        }
    }

    [Fact]
    public void PublishedLeastConnection_WeightZeroNeverPicked_NoUsableOneGoesUp()
    {
        EventRing();
        _tier.MoveConns(2001, 9, 0);
        _tier.PublishSchedule(Vip, 80, [new KernelSlot(RealServerMac, Rs1, 80, 2000, 0), new KernelSlot(Rs2Mac, Rs2, 80, 2001, 1)], KernelPick.WeightedLeastConnection);
        _tier.TestRun("fulcrum_xdp", Tcp(43010, TcpFlags.Syn), _out, 1, out uint verdict, out _);
        Assert.Equal((XdpTx, Rs2Mac), (verdict, EthernetFrame.ReadMac(_out)));

        _tier.PublishSchedule(Vip, 80, [new KernelSlot(RealServerMac, Rs1, 80, 2000, 0)], KernelPick.WeightedLeastConnection);
        _tier.TestRun("fulcrum_xdp", Tcp(43011, TcpFlags.Syn), _out, 1, out verdict, out _);
        Assert.Equal(XdpPass, verdict);
    }

    private static byte[] Tcp(ushort clientPort, byte flags) =>
        new FrameBuilder().WithMacs(ClientRouterMac, DirectorMac).WithIpv4(Client, Vip).Tcp(clientPort, 80, flags).Build();
}
