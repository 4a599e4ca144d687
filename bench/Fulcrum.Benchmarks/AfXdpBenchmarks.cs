using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Fulcrum.Balancing;
using Fulcrum.Director;
using Fulcrum.Linux;
using Fulcrum.Packets;

namespace Fulcrum.Benchmarks;

/// <summary>
/// What `--driver afxdp` adds per packet, on a batch of 64 UDP datagrams of established flows: the path with
/// the partial-checksum check (every frame partial, as from the lab's local senders, or every frame
/// complete, as from a wire), and the AF_XDP ring work of one frame (RX descriptor in, TX descriptor out,
/// completion back to fill) on in-memory rings laid out as the kernel maps them.
/// </summary>
[MemoryDiagnoser]
public unsafe class AfXdpBenchmarks
{
    private const int Batch = 64;
    private const uint Size = 2048;
    private const ulong DirectorMac = 0x0200_C633_640BUL;
    private readonly byte[][] _frames = new byte[Batch][];
    private readonly ushort[] _partial = new ushort[Batch];
    private ForwardingPath _path = null!;
    private long _now;
    private byte* _mem;
    private XskRing _rx;
    private XskRing _tx;
    private XskRing _fill;
    private XskRing _completion;
    private uint* _rxProducer;
    private uint* _txConsumer;
    private uint* _completionProducer;
    private uint* _fillConsumer;

    [GlobalSetup]
    public void Setup()
    {
        var table = new IpvsTable(TimeProvider.System, 1, 1 << 16);
        var key = new ServiceKey(IpProtocol.Udp, IPAddress.Parse("198.51.100.100"), 5201);
        table.AddService(new ServiceSpec(key, "rr"));
        table.AddDest(key, new DestSpec(IPAddress.Parse("198.51.100.2"), 5201));
        table.Snapshot.Services[0].Dests[0].Mac = 0x0200_C633_6402UL;
        _path = new ForwardingPath(table.CreateWorker(0), DirectorMac, repairPartialChecksums: true);
        _now = table.NowMs;
        for (int i = 0; i < Batch; i++)
        {
            _frames[i] = Frame(i);
            _partial[i] = BinaryPrimitives.ReadUInt16BigEndian(_frames[i].AsSpan(40));
            if (!_path.Process(_frames[i], checksumNotReady: false, _now))
                throw new InvalidOperationException("setup datagram was not forwarded");
        }

        // Four rings of 2048 entries: producer, consumer, flags at the start of each 64 KiB area.
        _mem = (byte*)NativeMemory.AllocZeroed(4 * 65536);
        _rx = Ring(0, 16, userProduces: false, out _rxProducer, out _);
        _tx = Ring(1, 16, userProduces: true, out _, out _txConsumer);
        _fill = Ring(2, 8, userProduces: true, out _, out _fillConsumer);
        _completion = Ring(3, 8, userProduces: false, out _completionProducer, out _);
    }

    [GlobalCleanup]
    public void Cleanup() => NativeMemory.Free(_mem);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Path_PartialChecksums()
    {
        int forwarded = 0;
        for (int i = 0; i < Batch; i++)
        {
            var f = _frames[i];
            EthernetFrame.WriteMac(f, DirectorMac);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(40), _partial[i]);
            if (_path.Process(f, checksumNotReady: false, _now))
                forwarded++;
        }

        return forwarded;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Path_CompleteChecksums()
    {
        int forwarded = 0;
        for (int i = 0; i < Batch; i++)
        {
            var f = _frames[i];
            EthernetFrame.WriteMac(f, DirectorMac);
            if (_path.Process(f, checksumNotReady: false, _now))
                forwarded++;
        }

        return forwarded;
    }

    /// <summary>XdpSocket's ring steps for a batch: RX descriptors in, the same chunks on TX, completions back to fill.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public uint Rings_RxToTxToFill()
    {
        // The kernel's side: 64 frames received, and (below) everything sent and filled consumed.
        *_rxProducer += Batch;
        uint ready = _rx.Available();
        uint free = _tx.Free(ready);
        for (uint i = 0; i < ready && i < free; i++)
        {
            var d = (ulong*)_rx.Entry(i);
            var t = (ulong*)_tx.Entry(i);
            t[0] = d[0];
            t[1] = d[1];
        }

        _rx.Release(ready);
        _tx.Submit(ready);
        *_txConsumer += ready;
        *_completionProducer += ready;
        uint done = _completion.Available();
        uint fillFree = _fill.Free(done);
        for (uint i = 0; i < done && i < fillFree; i++)
            *(ulong*)_fill.Entry(i) = *(ulong*)_completion.Entry(i) & ~2047UL;
        _completion.Release(done);
        _fill.Submit(done);
        *_fillConsumer += done;
        return done;
    }

    private XskRing Ring(int slot, int entrySize, bool userProduces, out uint* producer, out uint* consumer)
    {
        byte* b = _mem + (slot * 65536);
        producer = (uint*)b;
        consumer = (uint*)(b + 64);
        return new XskRing(producer, consumer, (uint*)(b + 128), b + 192, entrySize, Size, userProduces);
    }

    /// <summary>A 64-byte UDP payload from client i to VIP:5201, with the partial checksum a local sender leaves.</summary>
    private static byte[] Frame(int i)
    {
        const int IpLength = 20 + 8 + 64;
        var f = new byte[14 + IpLength];
        EthernetFrame.WriteMac(f, DirectorMac);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), EtherTypes.Ipv4);
        f[14] = 0x45;
        Ipv4Header.TryCreate(f.AsSpan(14), out var ip);
        ip.TotalLength = IpLength;
        ip.TimeToLive = 64;
        ip.Protocol = IpProtocols.Udp;
        ip.Source = 0xCB00_7100 | (uint)(1 + i);
        ip.Destination = 0xC633_6464;
        ip.RecomputeChecksum();
        var l4 = f.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(l4, (ushort)(40000 + i));
        BinaryPrimitives.WriteUInt16BigEndian(l4[2..], 5201);
        BinaryPrimitives.WriteUInt16BigEndian(l4[4..], 8 + 64);
        l4[8..].Fill((byte)i);
        BinaryPrimitives.WriteUInt16BigEndian(l4[6..], Checksum.Fold(Checksum.PseudoHeaderSum(ip.Source, ip.Destination, IpProtocols.Udp, 8 + 64)));
        return f;
    }
}
