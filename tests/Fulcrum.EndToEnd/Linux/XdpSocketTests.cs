using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Balancing;
using Fulcrum.Linux;
using Fulcrum.Linux.Bpf;
using Fulcrum.Packets;

namespace Fulcrum.EndToEnd.Linux;

/// <summary>
/// XdpSocket and XskRedirect on a veth pair in two namespaces (prefix "fax"): claimed datagrams arrive
/// through fulcrum_xsk, go back out from the same UMEM chunk, and every chunk returns to the free stack and
/// fill ring once the kernel completes the send (no descriptor is lost or sent twice).
/// </summary>
public class XdpSocketTests
{
    private const int Datagrams = 20;
    private const ushort ClaimedPort = 40001;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    [Fact]
    public void Poll_ClaimedDatagrams_EchoedInPlace_EveryChunkComesBack()
    {
        using var ns = new TwoNamespaces("fax");
        var (redirect, socket) = Open(ns);
        using var _ = redirect;
        using var xsk = socket;
        int freeAtStart = xsk.FreeFrames;
        Assert.False(xsk.ZeroCopy);   // veth: copy mode

        using var peer = NetworkNamespace.RunIn(ns.B, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(TwoNamespaces.AddressB, 0));
            s.ReceiveTimeout = 5000;
            return s;
        });
        for (int i = 0; i < Datagrams; i++)
            peer.SendTo(Encoding.ASCII.GetBytes("xsk-" + i), new IPEndPoint(TwoNamespaces.AddressA, ClaimedPort));

        var echo = new Echo(xsk);
        var sw = Stopwatch.StartNew();
        while (echo.Count < Datagrams && sw.Elapsed < Patience)
        {
            xsk.Poll(ref echo, 100);
            xsk.FlushTx();
        }

        Assert.Equal(Datagrams, echo.Count);
        Assert.Equal(0, echo.Refused);
        var buffer = new byte[64];
        var got = new HashSet<string>();
        for (int i = 0; i < Datagrams; i++)
        {
            EndPoint from = new IPEndPoint(IPAddress.Any, 0);
            int n = peer.ReceiveFrom(buffer, ref from);
            Assert.Equal(new IPEndPoint(TwoNamespaces.AddressA, ClaimedPort), from);
            got.Add(Encoding.ASCII.GetString(buffer, 0, n));
        }

        Assert.Equal(Datagrams, got.Count);
        // Sent chunks come back through the completion ring and go on to the fill ring.
        sw.Restart();
        while (xsk.FreeFrames != freeAtStart && sw.Elapsed < Patience)
        {
            xsk.FlushTx();
            xsk.Poll(ref echo, 10);
        }

        Assert.Equal(freeAtStart, xsk.FreeFrames);
        var counters = xsk.ReadCounters();
        Assert.Equal(Datagrams, counters.RxFrames);
        Assert.Equal(Datagrams, counters.TxFrames);
        Assert.Equal(0, counters.TxErrors);
    }

    [Fact]
    public void TrySend_BytesOutsideTheUmem_AreCopiedIntoAFreeChunk()
    {
        using var ns = new TwoNamespaces("fax");
        var (redirect, socket) = Open(ns);
        using var _ = redirect;
        using var xsk = socket;
        int freeAtStart = xsk.FreeFrames;
        using var peer = NetworkNamespace.RunIn(ns.B, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(TwoNamespaces.AddressB, 40100));
            s.ReceiveTimeout = 5000;
            return s;
        });
        ulong macA = NetworkNamespace.RunIn(ns.A, () => NetInterface.GetMac(TwoNamespaces.Interface));
        ulong macB = NetworkNamespace.RunIn(ns.B, () => NetInterface.GetMac(TwoNamespaces.Interface));
        byte[] frame = Udp(macA, macB, "copied");

        Assert.True(xsk.TrySend(frame));
        Assert.Equal(freeAtStart - 1, xsk.FreeFrames);
        xsk.FlushTx();

        var buffer = new byte[64];
        int n = peer.Receive(buffer);
        Assert.Equal("copied", Encoding.ASCII.GetString(buffer, 0, n));
        var sw = Stopwatch.StartNew();
        var none = new Echo(xsk);
        while (xsk.FreeFrames != freeAtStart && sw.Elapsed < Patience)
        {
            xsk.FlushTx();
            xsk.Poll(ref none, 10);
        }

        Assert.Equal(freeAtStart, xsk.FreeFrames);
    }

    [Fact]
    public void Bind_QueueAlreadyBound_FailsWithEbusyAfterRetrying()
    {
        using var ns = new TwoNamespaces("fax");
        int ifIndex = NetworkNamespace.RunIn(ns.A, () => NetInterface.GetIndex(TwoNamespaces.Interface));
        using var first = NetworkNamespace.RunIn(ns.A, () => new XdpSocket(ifIndex, 0));
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<LinuxException>(() => NetworkNamespace.RunIn(ns.A, () =>
            new XdpSocket(ifIndex, 0, new XdpSocketOptions { BusyRetry = TimeSpan.FromMilliseconds(200) })));
        Assert.Equal(16, e.Errno);
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(200), $"gave up after {sw.Elapsed}");
    }

    private static (XskRedirect, XdpSocket) Open(TwoNamespaces ns) => NetworkNamespace.RunIn(ns.A, () =>
    {
        var redirect = XskRedirect.Open(TwoNamespaces.Interface, native: true);
        try
        {
            var socket = new XdpSocket(NetInterface.GetIndex(TwoNamespaces.Interface), 0);
            redirect.Register(0, socket);
            redirect.SetClaims([((byte)IpProtocol.Udp, TwoNamespaces.AddressA, ClaimedPort)]);
            return (redirect, socket);
        }
        catch
        {
            redirect.Dispose();
            throw;
        }
    });

    /// <summary>A UDP/IPv4 frame from A:40001 to B:40100 with a complete checksum.</summary>
    private static byte[] Udp(ulong macA, ulong macB, string payload)
    {
        byte[] data = Encoding.ASCII.GetBytes(payload);
        int ipLength = 20 + 8 + data.Length;
        var f = new byte[14 + ipLength];
        EthernetFrame.WriteMac(f, macB);
        EthernetFrame.WriteMac(f.AsSpan(6), macA);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), EtherTypes.Ipv4);
        f[14] = 0x45;
        Ipv4Header.TryCreate(f.AsSpan(14), out var ip);
        ip.TotalLength = (ushort)ipLength;
        ip.TimeToLive = 64;
        ip.Protocol = IpProtocols.Udp;
        ip.Source = BinaryPrimitives.ReadUInt32BigEndian(TwoNamespaces.AddressA.GetAddressBytes());
        ip.Destination = BinaryPrimitives.ReadUInt32BigEndian(TwoNamespaces.AddressB.GetAddressBytes());
        ip.RecomputeChecksum();
        var l4 = f.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(l4, ClaimedPort);
        BinaryPrimitives.WriteUInt16BigEndian(l4[2..], 40100);
        BinaryPrimitives.WriteUInt16BigEndian(l4[4..], (ushort)(8 + data.Length));
        data.CopyTo(l4[8..]);
        Assert.Equal(FrameKind.Transport, FrameClassifier.Classify(f, out var p, out _));
        Checksum.CompleteTransportChecksum(f, in p);
        return f;
    }

    /// <summary>Turns each datagram around in place (MACs, addresses, ports swapped; the sum is unchanged by the swap) and sends it.</summary>
    private struct Echo : IFrameHandler
    {
        private readonly XdpSocket _socket;

        public Echo(XdpSocket socket) => _socket = socket;

        public int Count { get; private set; }

        public int Refused { get; private set; }

        public void OnFrame(Span<byte> frame, FrameStatus status)
        {
            if (FrameClassifier.Classify(frame, out var p, out _) != FrameKind.Transport)
                return;
            // The peer's datagram is CHECKSUM_PARTIAL, which AF_XDP does not say: the same repair as the worker's.
            Checksum.RepairPartialTransportChecksum(frame, in p);
            Span<byte> mac = stackalloc byte[6];
            frame[..6].CopyTo(mac);
            frame.Slice(6, 6).CopyTo(frame);
            mac.CopyTo(frame[6..]);
            Swap(frame.Slice(26, 4), frame.Slice(30, 4));
            Swap(frame.Slice(34, 2), frame.Slice(36, 2));
            Count++;
            if (!_socket.TrySend(frame))
                Refused++;
        }

        private static void Swap(Span<byte> a, Span<byte> b)
        {
            Span<byte> t = stackalloc byte[4];
            a.CopyTo(t);
            b.CopyTo(a);
            t[..a.Length].CopyTo(b);
        }
    }
}
