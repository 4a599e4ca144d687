using System.Buffers.Binary;
using System.Net;
using BenchmarkDotNet.Attributes;
using Fulcrum.Balancing;
using Fulcrum.Director;
using Fulcrum.Packets;

namespace Fulcrum.Benchmarks;

/// <summary>
/// The director's whole per-packet path, exactly as a worker runs it (<see cref="ForwardingPath"/>):
/// classify the frame, find the connection (or schedule a new one), step the TCP state, count, and
/// rewrite the MACs for direct routing, with or without completing a partial L4 checksum. A batch
/// of 64 frames of established connections from 64 clients; the rings are not included.
/// </summary>
[MemoryDiagnoser]
public class DataPathBenchmarks
{
    private const int Batch = 64;
    private const uint Vip = 0xC633_6464;        // 198.51.100.100
    private const ulong DirectorMac = 0x0200_C633_640BUL;
    private readonly byte[][] _frames = new byte[Batch][];
    private ForwardingPath _path = null!;
    private IpvsTable _table = null!;
    private long _now;

    [GlobalSetup]
    public void Setup()
    {
        _table = new IpvsTable(TimeProvider.System, 1, 1 << 16);
        var key = new ServiceKey(IpProtocol.Tcp, IPAddress.Parse("198.51.100.100"), 80);
        _table.AddService(new ServiceSpec(key, "rr"));
        for (int i = 2; i <= 4; i++)
        {
            _table.AddDest(key, new DestSpec(IPAddress.Parse($"198.51.100.{i}"), 80));
        }

        foreach (var dest in _table.Snapshot.Services[0].Dests)
        {
            dest.Mac = 0x0200_C633_6400UL | (dest.Address4 & 0xFF);
        }

        _path = new ForwardingPath(_table.CreateWorker(0), DirectorMac);
        _now = _table.NowMs;
        for (int i = 0; i < Batch; i++)
        {
            var syn = Frame(i, TcpFlags.Syn);
            if (!_path.Process(syn, checksumNotReady: true, _now))
            {
                throw new InvalidOperationException("setup SYN was not forwarded");
            }

            _frames[i] = Frame(i, TcpFlags.Ack | TcpFlags.Psh);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int EstablishedFlows_CompleteChecksum() => Run(checksumNotReady: true);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int EstablishedFlows_ChecksumReady() => Run(checksumNotReady: false);

    private int Run(bool checksumNotReady)
    {
        int forwarded = 0;
        var path = _path;
        var frames = _frames;
        for (int i = 0; i < frames.Length; i++)
        {
            // Each frame arrives addressed to the director, as a fresh one would (the path rewrote it).
            EthernetFrame.WriteMac(frames[i], DirectorMac);
            if (path.Process(frames[i], checksumNotReady, _now))
            {
                forwarded++;
            }
        }

        return forwarded;
    }

    /// <summary>A 128-byte TCP segment (74 bytes of payload) from client i to VIP:80, partial checksum.</summary>
    private static byte[] Frame(int i, byte flags)
    {
        const int IpLength = 20 + 20 + 74;
        var f = new byte[14 + IpLength];
        EthernetFrame.WriteMac(f, DirectorMac);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), EtherTypes.Ipv4);
        f[14] = 0x45;
        Ipv4Header.TryCreate(f.AsSpan(14), out var ip);
        ip.TotalLength = IpLength;
        ip.TimeToLive = 64;
        ip.Protocol = IpProtocols.Tcp;
        ip.Source = 0xCB00_7100 | (uint)(1 + i);   // 203.0.113.(1+i)
        ip.Destination = Vip;
        ip.RecomputeChecksum();
        var l4 = f.AsSpan(34);
        l4[12] = 0x50;
        TcpHeader.TryCreate(l4, out var tcp);
        tcp.SourcePort = (ushort)(40000 + i);
        tcp.DestinationPort = 80;
        tcp.Flags = flags;
        tcp.Window = 64240;
        tcp.Checksum = Checksum.Fold(Checksum.PseudoHeaderSum(ip.Source, ip.Destination, IpProtocols.Tcp, IpLength - 20));
        return f;
    }
}
