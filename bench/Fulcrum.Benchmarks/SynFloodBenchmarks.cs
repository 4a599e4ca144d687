using System.Net;
using BenchmarkDotNet.Attributes;
using Fulcrum.Balancing;
using Fulcrum.Packets;

namespace Fulcrum.Benchmarks;

/// <summary>
/// A worker under a spoofed SYN flood with every defense on: its table is at its bound with embryonic
/// entries, drop_packet drops one SYN in 10 (am_droprate), and each other SYN recycles a random SYNACK entry
/// (drop_entry) and is scheduled with the tcp_states_dos table. Each batch comes from 64 new sources.
/// </summary>
[MemoryDiagnoser]
public class SynFloodBenchmarks
{
    private const int Batch = 64;
    private const int Capacity = 4096;
    private const uint VipU32 = (198u << 24) | (51u << 16) | (100u << 8) | 100u;

    private readonly ParsedPacket[] _syns = new ParsedPacket[Batch];
    private Balancer _worker = null!;
    private long _now;
    private uint _source;

    [GlobalSetup]
    public void Setup()
    {
        var table = new IpvsTable(TimeProvider.System, 1, Capacity,
            new DefenseSettings { DropEntry = 3, DropPacket = 3, SecureTcp = 3 });
        var key = new ServiceKey(IpProtocol.Tcp, IPAddress.Parse("198.51.100.100"), 80);
        table.AddService(new ServiceSpec(key, "rr"));
        for (int i = 2; i <= 4; i++)
        {
            table.AddDest(key, new DestSpec(IPAddress.Parse($"198.51.100.{i}"), 80));
        }

        _worker = table.CreateWorker(0);
        _now = table.NowMs;
        _source = 203u << 24;
        while (_worker.Count < Capacity)
        {
            Refill();
            SynBatch();
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int SpoofedSyns_TableFull_AllDefensesOn()
    {
        Refill();
        return SynBatch();
    }

    private void Refill()
    {
        for (int i = 0; i < Batch; i++)
        {
            _syns[i] = new ParsedPacket
            {
                L3Offset = 14,
                L4Offset = 34,
                Protocol = 6,
                TcpFlags = 0x02,
                SourceAddress = _source++,
                DestinationAddress = VipU32,
                SourcePort = (ushort)(1024 + i),
                DestinationPort = 80,
                IpLength = 40,
            };
        }
    }

    private int SynBatch()
    {
        int forwarded = 0;
        var w = _worker;
        var packets = _syns;
        for (int i = 0; i < packets.Length; i++)
        {
            if (w.Process(ref packets[i], _now, out _, out _) == BalanceVerdict.Forward)
            {
                forwarded++;
            }
        }

        return forwarded;
    }
}
