using System.Buffers.Binary;
using System.Net;
using BenchmarkDotNet.Attributes;
using Fulcrum.Balancing;
using Fulcrum.Director;
using Fulcrum.Packets;

namespace Fulcrum.Benchmarks;

/// <summary>
/// The IPv6 counterparts of <see cref="DataPathBenchmarks"/> and <see cref="BalancingBenchmarks"/>: the whole
/// <see cref="ForwardingPath"/> for 64 established IPv6 flows (128-byte frames, with and without completing a
/// partial checksum over the IPv6 pseudo-header), and the balancer opening 64 new IPv6 connections.
/// </summary>
[MemoryDiagnoser]
public class Ipv6DataPathBenchmarks
{
    private const int Batch = 64;
    private const ulong DirectorMac = 0x0200_C633_640BUL;
    private static readonly UInt128 Vip = Address("2001:db8:100::100");
    private static readonly UInt128 ClientBase = Address("2001:db8:113::");
    private readonly byte[][] _frames = new byte[Batch][];
    private readonly ParsedPacket[] _new = new ParsedPacket[Batch];
    private ForwardingPath _path = null!;
    private Balancer _newWorker = null!;
    private long _now;
    private long _newNow;

    [GlobalSetup]
    public void Setup()
    {
        var table = NewTable();
        _path = new ForwardingPath(table.CreateWorker(0), DirectorMac);
        _now = table.NowMs;
        for (int i = 0; i < Batch; i++)
        {
            if (!_path.Process(Frame(i, TcpFlags.Syn), checksumNotReady: true, _now))
            {
                throw new InvalidOperationException("setup SYN was not forwarded");
            }

            _frames[i] = Frame(i, TcpFlags.Ack | TcpFlags.Psh);
            if (FrameClassifier.Classify(Frame(i, TcpFlags.Syn), out _new[i], out _) != FrameKind.Transport)
            {
                throw new InvalidOperationException("setup frame did not classify");
            }
        }

        // New flows run on their own table and clock, so the established flows above never expire.
        _newWorker = NewTable().CreateWorker(0);
        _newNow = _now;
        NewFlows6();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int EstablishedFlows6_CompleteChecksum() => Run(checksumNotReady: true);

    /// <summary>Every frame of a run is forwarded (a guard for the numbers above).</summary>
    public bool AllForwarded() => Run(checksumNotReady: false) == Batch && NewFlows6() == Batch;

    [Benchmark(OperationsPerInvoke = Batch)]
    public int EstablishedFlows6_ChecksumReady() => Run(checksumNotReady: false);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int NewFlows6()
    {
        // As BalancingBenchmarks.NewFlows: sweep the previous batch (expired), then open 64 new connections.
        _newNow += 61_000;
        var w = _newWorker;
        w.Expire(_newNow, Batch);
        int forwarded = 0;
        var packets = _new;
        for (int i = 0; i < packets.Length; i++)
        {
            if (w.Process(ref packets[i], _newNow, out _, out _) == BalanceVerdict.Forward)
            {
                forwarded++;
            }
        }

        return forwarded;
    }

    private int Run(bool checksumNotReady)
    {
        int forwarded = 0;
        var path = _path;
        var frames = _frames;
        for (int i = 0; i < frames.Length; i++)
        {
            EthernetFrame.WriteMac(frames[i], DirectorMac);
            if (path.Process(frames[i], checksumNotReady, _now))
            {
                forwarded++;
            }
        }

        return forwarded;
    }

    private static IpvsTable NewTable()
    {
        var table = new IpvsTable(TimeProvider.System, 1, 1 << 16);
        var key = new ServiceKey(IpProtocol.Tcp, IPAddress.Parse("2001:db8:100::100"), 80);
        table.AddService(new ServiceSpec(key, "rr"));
        for (int i = 2; i <= 4; i++)
        {
            table.AddDest(key, new DestSpec(IPAddress.Parse($"2001:db8:100::{i}"), 80));
        }

        foreach (var dest in table.Snapshot.Services[0].Dests)
        {
            dest.Mac = 0x0200_C633_6400UL | (dest.HashAddress & 0xFF);
        }

        return table;
    }

    private static UInt128 Address(string text) => BinaryPrimitives.ReadUInt128BigEndian(IPAddress.Parse(text).GetAddressBytes());

    /// <summary>A 128-byte TCP segment (54 bytes of payload) from client i to [VIP]:80, partial checksum.</summary>
    private static byte[] Frame(int i, byte flags)
    {
        const int PayloadLength = 20 + 54;
        var f = new byte[14 + 40 + PayloadLength];
        EthernetFrame.WriteMac(f, DirectorMac);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), EtherTypes.Ipv6);
        f[14] = 0x60;
        Ipv6Header.TryCreate(f.AsSpan(14), out var ip);
        ip.PayloadLength = PayloadLength;
        ip.NextHeader = IpProtocols.Tcp;
        ip.HopLimit = 64;
        ip.Source = ClientBase + (UInt128)(1 + i);
        ip.Destination = Vip;
        var l4 = f.AsSpan(54);
        l4[12] = 0x50;
        TcpHeader.TryCreate(l4, out var tcp);
        tcp.SourcePort = (ushort)(40000 + i);
        tcp.DestinationPort = 80;
        tcp.Flags = flags;
        tcp.Window = 64240;
        tcp.Checksum = Checksum.Fold(Checksum.PseudoHeaderSum6(ip.Source, ip.Destination, IpProtocols.Tcp, PayloadLength));
        return f;
    }
}
