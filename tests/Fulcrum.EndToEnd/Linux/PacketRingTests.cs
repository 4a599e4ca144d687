using Fulcrum.Packets;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Linux;

public class PacketRingTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    [Fact]
    public void Poll_DatagramFromPeer_DeliversItsBytes()
    {
        using var ns = new TwoNamespaces();
        using var ring = NetworkNamespace.RunIn(ns.A, () => new PacketRing(NetInterface.GetIndex(TwoNamespaces.Interface)));
        byte[] marker = Marker();

        NetworkNamespace.RunIn(ns.B, () => SendUdp(TwoNamespaces.AddressA, 40001, marker));

        var handler = new FindMarker(marker);
        Assert.True(PollUntil(ring, ref handler, Patience), "the datagram from B never reached the ring in A");
        byte[] frame = handler.Found!;
        Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)));
        Assert.Equal(17, frame[14 + 9]);
        Assert.Equal(TwoNamespaces.AddressB, new IPAddress(frame.AsSpan(14 + 12, 4)));
        Assert.Equal(TwoNamespaces.AddressA, new IPAddress(frame.AsSpan(14 + 16, 4)));
        Assert.Equal(40001, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(34 + 2)));
        Assert.Equal(marker, frame.AsSpan(42, marker.Length).ToArray());
        ulong macA = NetworkNamespace.RunIn(ns.A, () => NetInterface.GetMac(TwoNamespaces.Interface));
        Assert.Equal(macA, EthernetFrame.ReadMac(frame));
        Assert.True(ring.ReadCounters().RxFrames >= 1);
    }

    // Between veths the sender's UDP checksum stays CHECKSUM_PARTIAL (veth offers checksum offload), which
    // is exactly the case issue #2 warns about: the data plane must complete the checksum before forwarding.
    [Fact]
    public void Poll_DatagramFromVethPeer_ReportsChecksumNotReady()
    {
        using var ns = new TwoNamespaces();
        using var ring = NetworkNamespace.RunIn(ns.A, () => new PacketRing(NetInterface.GetIndex(TwoNamespaces.Interface)));
        byte[] marker = Marker();

        NetworkNamespace.RunIn(ns.B, () => SendUdp(TwoNamespaces.AddressA, 40001, marker));

        var handler = new FindMarker(marker);
        Assert.True(PollUntil(ring, ref handler, Patience));
        Assert.True(handler.Status.ChecksumNotReady, $"status 0x{handler.Status.Raw:x}");
        Assert.False(handler.Status.VlanValid);
        Assert.Equal(handler.Found!.Length, handler.Status.OriginalLength);
    }

    [Fact]
    public void Poll_TwoRingsInOneFanoutGroup_EachFlowGoesToExactlyOneRing()
    {
        using var ns = new TwoNamespaces();
        var options = new PacketRingOptions { FanoutGroup = 0x4242, BlockCount = 4 };
        using var ring1 = NetworkNamespace.RunIn(ns.A, () => new PacketRing(NetInterface.GetIndex(TwoNamespaces.Interface), options));
        using var ring2 = NetworkNamespace.RunIn(ns.A, () => new PacketRing(NetInterface.GetIndex(TwoNamespaces.Interface), options));
        const int Flows = 32;
        byte[][] markers = new byte[Flows][];
        NetworkNamespace.RunIn(ns.B, () =>
        {
            for (int i = 0; i < Flows; i++)
            {
                markers[i] = Marker();
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                s.Bind(new IPEndPoint(TwoNamespaces.AddressB, 41000 + i));
                s.SendTo(markers[i], new IPEndPoint(TwoNamespaces.AddressA, 40020));
            }
        });

        var seen1 = new CountMarkers(markers);
        var seen2 = new CountMarkers(markers);
        var sw = Stopwatch.StartNew();
        while (seen1.Total + seen2.Total < Flows && sw.Elapsed < Patience)
        {
            ring1.Poll(ref seen1, 20);
            ring2.Poll(ref seen2, 20);
        }

        Assert.Equal(Flows, seen1.Total + seen2.Total);
        Assert.True(seen1.Total > 0 && seen2.Total > 0, $"fanout sent {seen1.Total} flows to ring 1 and {seen2.Total} to ring 2");
    }

    [Fact]
    public void TrySend_QdiscBypass_FramesStillArrive()
    {
        using var ns = new TwoNamespaces();
        var options = new PacketRingOptions { QdiscBypass = true };
        using var ring = NetworkNamespace.RunIn(ns.A, () => new PacketRing(NetInterface.GetIndex(TwoNamespaces.Interface), options));
        ulong macA = NetworkNamespace.RunIn(ns.A, () => NetInterface.GetMac(TwoNamespaces.Interface));
        ulong macB = NetworkNamespace.RunIn(ns.B, () => NetInterface.GetMac(TwoNamespaces.Interface));
        using var socketB = NetworkNamespace.RunIn(ns.B, () => BoundUdp(TwoNamespaces.AddressB, 40006));
        byte[] marker = Marker();

        Assert.True(ring.TrySend(Frames.Udp(macB, macA, TwoNamespaces.AddressA, TwoNamespaces.AddressB, 50000, 40006, marker)));
        ring.FlushTx();

        var buffer = new byte[128];
        int n = socketB.Receive(buffer);
        Assert.Equal(marker, buffer.AsSpan(0, n).ToArray());
    }

    [Fact]
    public void TrySend_UdpFrameToPeer_ArrivesAtSocketInPeer()
    {
        using var ns = new TwoNamespaces();
        using var ring = NetworkNamespace.RunIn(ns.A, () => new PacketRing(NetInterface.GetIndex(TwoNamespaces.Interface)));
        ulong macA = NetworkNamespace.RunIn(ns.A, () => NetInterface.GetMac(TwoNamespaces.Interface));
        ulong macB = NetworkNamespace.RunIn(ns.B, () => NetInterface.GetMac(TwoNamespaces.Interface));
        using var socketB = NetworkNamespace.RunIn(ns.B, () => BoundUdp(TwoNamespaces.AddressB, 40002));
        byte[] marker = Marker();

        byte[] frame = Frames.Udp(macB, macA, TwoNamespaces.AddressA, TwoNamespaces.AddressB, 50000, 40002, marker);
        Assert.True(ring.TrySend(frame));
        ring.FlushTx();

        var buffer = new byte[2048];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        int n = socketB.ReceiveFrom(buffer, ref from);
        Assert.Equal(marker, buffer.AsSpan(0, n).ToArray());
        Assert.Equal(new IPEndPoint(TwoNamespaces.AddressA, 50000), from);
        Assert.Equal(1, ring.ReadCounters().TxFrames);
    }

    [Fact]
    public void TrySend_ManyFramesInOneBatch_AllArrive()
    {
        using var ns = new TwoNamespaces();
        using var ring = NetworkNamespace.RunIn(ns.A, () => new PacketRing(NetInterface.GetIndex(TwoNamespaces.Interface)));
        ulong macA = NetworkNamespace.RunIn(ns.A, () => NetInterface.GetMac(TwoNamespaces.Interface));
        ulong macB = NetworkNamespace.RunIn(ns.B, () => NetInterface.GetMac(TwoNamespaces.Interface));
        using var socketB = NetworkNamespace.RunIn(ns.B, () => BoundUdp(TwoNamespaces.AddressB, 40003));
        const int Count = 300;

        // More than one pass over the 1024-slot ring, flushed every 100 frames, exercises slot reuse.
        for (int round = 0; round < 4; round++)
        {
            for (int i = 0; i < Count; i++)
            {
                byte[] frame = Frames.Udp(macB, macA, TwoNamespaces.AddressA, TwoNamespaces.AddressB, 50000, 40003, Encoding.ASCII.GetBytes($"n{i:D4}"));
                Assert.True(ring.TrySend(frame), $"slot {i} of round {round} was not free");
                if (i % 100 == 99)
                {
                    ring.FlushTx();
                }
            }

            ring.FlushTx();
            var buffer = new byte[64];
            for (int i = 0; i < Count; i++)
            {
                int n;
                try
                {
                    n = socketB.Receive(buffer);
                }
                catch (SocketException ex)
                {
                    throw new InvalidOperationException($"datagram {i} of round {round} missing; ring: {ring.ReadCounters()}", ex);
                }

                Assert.Equal(5, n);
            }
        }

        Assert.Equal(4 * Count, ring.ReadCounters().TxFrames);
    }

    [Fact]
    public void TrySend_OwnFrames_NeverComeBackOnTheRing()
    {
        using var ns = new TwoNamespaces();
        using var ring = NetworkNamespace.RunIn(ns.A, () => new PacketRing(NetInterface.GetIndex(TwoNamespaces.Interface)));
        ulong macA = NetworkNamespace.RunIn(ns.A, () => NetInterface.GetMac(TwoNamespaces.Interface));
        ulong macB = NetworkNamespace.RunIn(ns.B, () => NetInterface.GetMac(TwoNamespaces.Interface));
        using var socketB = NetworkNamespace.RunIn(ns.B, () => BoundUdp(TwoNamespaces.AddressB, 40004));
        byte[] marker = Marker();

        Assert.True(ring.TrySend(Frames.Udp(macB, macA, TwoNamespaces.AddressA, TwoNamespaces.AddressB, 50000, 40004, marker)));
        ring.FlushTx();
        Assert.Equal(marker.Length, socketB.Receive(new byte[64]));

        var handler = new FindMarker(marker);
        Assert.False(PollUntil(ring, ref handler, TimeSpan.FromMilliseconds(300)), "the ring received its own transmission");
    }

    // dev_queue_xmit_nit never loops a frame back to the socket (or fanout group) that sent it, so
    // PACKET_IGNORE_OUTGOING is about everything else the host sends: here a datagram from A's own stack.
    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Poll_IgnoreOutgoing_HostsOwnTransmissionsSeenOnlyWhenNotIgnored(bool ignoreOutgoing, bool expectSeen)
    {
        using var ns = new TwoNamespaces();
        var options = new PacketRingOptions { IgnoreOutgoing = ignoreOutgoing };
        using var ring = NetworkNamespace.RunIn(ns.A, () => new PacketRing(NetInterface.GetIndex(TwoNamespaces.Interface), options));
        using var socketB = NetworkNamespace.RunIn(ns.B, () => BoundUdp(TwoNamespaces.AddressB, 40005));
        byte[] marker = Marker();

        NetworkNamespace.RunIn(ns.A, () => SendUdp(TwoNamespaces.AddressB, 40005, marker));
        Assert.Equal(marker.Length, socketB.Receive(new byte[64]));

        var handler = new FindMarker(marker);
        Assert.Equal(expectSeen, PollUntil(ring, ref handler, TimeSpan.FromMilliseconds(expectSeen ? 5000 : 300)));
    }

    [Fact]
    public void TrySend_FrameLargerThanSlotOrShorterThanEthernet_IsRefusedAndCounted()
    {
        using var ns = new TwoNamespaces();
        using var ring = NetworkNamespace.RunIn(ns.A, () => new PacketRing(NetInterface.GetIndex(TwoNamespaces.Interface)));

        Assert.False(ring.TrySend(new byte[ring.MaxTxFrameLength + 1]));
        Assert.False(ring.TrySend(new byte[13]));
        Assert.True(ring.TrySend(new byte[ring.MaxTxFrameLength]));
        Assert.Equal(2, ring.ReadCounters().TxBadLength);
    }

    [Fact]
    public void ReadCounters_RingLeftFull_ReportsKernelDrops()
    {
        using var ns = new TwoNamespaces();
        var options = new PacketRingOptions { BlockSize = 4096, BlockCount = 2, FrameSize = 2048 };
        using var ring = NetworkNamespace.RunIn(ns.A, () => new PacketRing(NetInterface.GetIndex(TwoNamespaces.Interface), options));

        // Two 4 KiB blocks hold a few dozen small frames; nobody polls, so the rest must be dropped and counted.
        NetworkNamespace.RunIn(ns.B, () =>
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            for (int i = 0; i < 300; i++)
            {
                s.SendTo(new byte[32], new IPEndPoint(TwoNamespaces.AddressA, 40030));
            }
        });
        Thread.Sleep(50);

        PacketRingCounters counters = ring.ReadCounters();
        Assert.True(counters.KernelDrops > 0, counters.ToString());
        var handler = new FindMarker(Marker());
        Assert.True(ring.Poll(ref handler, 100) > 0);
    }

    [Fact]
    public void Poll_NothingArrives_ReturnsZeroAfterTimeout()
    {
        using var ns = new TwoNamespaces();
        using var ring = NetworkNamespace.RunIn(ns.A, () => new PacketRing(NetInterface.GetIndex(TwoNamespaces.Interface)));
        var handler = new FindMarker(Marker());
        // Drain whatever link-up chatter (IPv6 DAD, router solicitations) is already there.
        while (ring.Poll(ref handler, 50) > 0)
        {
        }

        var sw = Stopwatch.StartNew();
        int frames = ring.Poll(ref handler, 100);
        Assert.True(frames > 0 || sw.ElapsedMilliseconds >= 90, $"Poll returned 0 frames after {sw.ElapsedMilliseconds} ms");
    }

    internal static byte[] Marker() => Encoding.ASCII.GetBytes("fulcrum-" + Guid.NewGuid().ToString("N"));

    internal static void SendUdp(IPAddress to, int port, byte[] payload)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.SendTo(payload, new IPEndPoint(to, port));
    }

    internal static Socket BoundUdp(IPAddress address, int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(address, port));
        s.ReceiveTimeout = 5000;
        s.ReceiveBufferSize = 4 << 20;
        return s;
    }

    internal static bool PollUntil(PacketRing ring, ref FindMarker handler, TimeSpan patience)
    {
        var sw = Stopwatch.StartNew();
        while (handler.Found is null && sw.Elapsed < patience)
        {
            ring.Poll(ref handler, 50);
        }

        return handler.Found is not null;
    }

    private struct CountMarkers : IFrameHandler
    {
        private readonly byte[][] _markers;

        public CountMarkers(byte[][] markers) => _markers = markers;

        public int Total { get; private set; }

        public void OnFrame(Span<byte> frame, FrameStatus status)
        {
            foreach (byte[] m in _markers)
            {
                if (Frames.Contains(frame, m))
                {
                    Total++;
                }
            }
        }
    }

    internal struct FindMarker : IFrameHandler
    {
        private readonly byte[] _marker;

        public FindMarker(byte[] marker) => _marker = marker;

        public byte[]? Found { get; private set; }

        public FrameStatus Status { get; private set; }

        public void OnFrame(Span<byte> frame, FrameStatus status)
        {
            if (Found is null && Frames.Contains(frame, _marker))
            {
                Found = frame.ToArray();
                Status = status;
            }
        }
    }
}
