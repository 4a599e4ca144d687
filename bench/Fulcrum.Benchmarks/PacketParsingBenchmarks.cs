using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Fulcrum.Packets;

namespace Fulcrum.Benchmarks;

/// <summary>
/// The per-batch cost of the first data-plane step: classify 64 frames (a TPACKET_V3 block's worth)
/// and complete the partial TCP/UDP checksums veths hand us. Must report 0 B allocated.
/// </summary>
[MemoryDiagnoser]
public class PacketParsingBenchmarks
{
    private const int BatchSize = 64;
    private readonly byte[][] _frames = new byte[BatchSize][];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(64);
        for (int i = 0; i < BatchSize; i++)
        {
            // Mostly TCP, some UDP, a few tagged; payloads from a bare ACK to a full 1500-byte MTU.
            bool udp = i % 4 == 3;
            bool vlan = i % 8 == 5;
            int payload = i % 3 == 0 ? 0 : random.Next(1, 1481 - (udp ? 8 : 20)); // IP total length up to 1500
            _frames[i] = BuildPartialChecksumFrame(udp, vlan, payload, random);
        }
    }

    [Benchmark(Baseline = true)]
    public int ClassifyBatch()
    {
        int transport = 0;
        byte[][] frames = _frames;
        for (int i = 0; i < frames.Length; i++)
        {
            if (FrameClassifier.Classify(frames[i], out _, out _) == FrameKind.Transport)
                transport++;
        }
        return transport;
    }

    [Benchmark]
    public int ClassifyAndCompleteChecksums()
    {
        int transport = 0;
        byte[][] frames = _frames;
        for (int i = 0; i < frames.Length; i++)
        {
            Span<byte> frame = frames[i];
            if (FrameClassifier.Classify(frame, out ParsedPacket p, out _) == FrameKind.Transport)
            {
                Checksum.CompleteTransportChecksum(frame, in p);
                transport++;
            }
        }
        return transport;
    }

    private static byte[] BuildPartialChecksumFrame(bool udp, bool vlan, int payload, Random random)
    {
        int l2 = vlan ? 18 : 14;
        int l4Header = udp ? 8 : 20;
        int ipLength = 20 + l4Header + payload;
        byte[] frame = new byte[Math.Max(l2 + ipLength, 60)];
        random.NextBytes(frame.AsSpan(l2 + 20 + l4Header));
        frame[0] = 0x02;
        frame[5] = 0x02;
        frame[6] = 0x02;
        frame[11] = 0x01;
        if (vlan)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherTypes.Vlan);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), 100);
        }
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l2 - 2), EtherTypes.Ipv4);

        Span<byte> ipBytes = frame.AsSpan(l2);
        ipBytes[0] = 0x45;
        Ipv4Header.TryCreate(ipBytes, out Ipv4Header ip);
        ip.TotalLength = (ushort)ipLength;
        ip.FlagsAndFragmentOffset = Ipv4Header.DontFragmentBit;
        ip.TimeToLive = 64;
        ip.Protocol = udp ? IpProtocols.Udp : IpProtocols.Tcp;
        ip.Source = 0xCB00_7100 | (uint)random.Next(1, 255); // 203.0.113.x
        ip.Destination = 0xC633_6401;                       // 198.51.100.1
        ip.RecomputeChecksum();

        Span<byte> l4 = ipBytes[20..ipLength];
        ushort partial = Checksum.Fold(Checksum.PseudoHeaderSum(ip.Source, ip.Destination, ip.Protocol, l4.Length));
        if (udp)
        {
            UdpHeader.TryCreate(l4, out UdpHeader h);
            h.SourcePort = (ushort)random.Next(1024, 65536);
            h.DestinationPort = 53;
            h.DatagramLength = (ushort)l4.Length;
            h.Checksum = partial;
        }
        else
        {
            l4[12] = 0x50;
            TcpHeader.TryCreate(l4, out TcpHeader h);
            h.SourcePort = (ushort)random.Next(1024, 65536);
            h.DestinationPort = 80;
            h.SequenceNumber = (uint)random.Next();
            h.Flags = TcpFlags.Ack | TcpFlags.Psh;
            h.Window = 64240;
            h.Checksum = partial;
        }
        return frame;
    }
}
