using System.Net;
using BenchmarkDotNet.Attributes;
using Fulcrum.Balancing;
using Fulcrum.Packets;

namespace Fulcrum.Benchmarks;

/// <summary>
/// The balancer's per-packet path over a batch of 64 parsed packets: service lookup, connection lookup,
/// TCP state step and counters for existing flows; lookup miss, rr scheduling and connection setup for new
/// flows (plus the expiry sweep that frees the previous batch, so the table stays at 64 entries).
/// </summary>
[MemoryDiagnoser]
public class BalancingBenchmarks
{
    private const int Batch = 64;
    private static readonly IPAddress Vip = IPAddress.Parse("198.51.100.100");
    private const uint VipU32 = (198u << 24) | (51u << 16) | (100u << 8) | 100u;
    private const uint ClientBase = (203u << 24) | (113u << 8);

    private readonly ParsedPacket[] _existing = new ParsedPacket[Batch];
    private readonly ParsedPacket[] _new = new ParsedPacket[Batch];
    private Balancer _existingWorker = null!;
    private Balancer _newWorker = null!;
    private long _now;

    [GlobalSetup]
    public void Setup()
    {
        var existingTable = NewTable();
        var newTable = NewTable();
        _existingWorker = existingTable.CreateWorker(0);
        _newWorker = newTable.CreateWorker(0);
        _now = 1_000_000;

        for (int i = 0; i < Batch; i++)
        {
            var syn = Packet(i, 0x02);
            _existingWorker.Process(ref syn, _now, out _, out _);
            _existing[i] = Packet(i, 0x10);
            _existingWorker.Process(ref _existing[i], _now, out _, out _); // ESTABLISHED
            _new[i] = Packet(i, 0x02);
        }
        // Warm the new-flow table so its first chunk exists before measuring.
        NewFlows();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int ExistingFlows()
    {
        int forwarded = 0;
        var w = _existingWorker;
        var packets = _existing;
        for (int i = 0; i < packets.Length; i++)
        {
            if (w.Process(ref packets[i], _now, out _, out _) == BalanceVerdict.Forward)
                forwarded++;
        }
        return forwarded;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int NewFlows()
    {
        // 61 s later the previous batch (SYN_RECV, 60 s) has expired: sweep it, then open 64 new connections.
        _now += 61_000;
        var w = _newWorker;
        w.Expire(_now, Batch);
        int forwarded = 0;
        var packets = _new;
        for (int i = 0; i < packets.Length; i++)
        {
            if (w.Process(ref packets[i], _now, out _, out _) == BalanceVerdict.Forward)
                forwarded++;
        }
        return forwarded;
    }

    private static IpvsTable NewTable()
    {
        var table = new IpvsTable(TimeProvider.System, 1, 1 << 16);
        var key = new ServiceKey(IpProtocol.Tcp, Vip, 80);
        table.AddService(new ServiceSpec(key, "rr"));
        for (int i = 2; i <= 4; i++)
            table.AddDest(key, new DestSpec(IPAddress.Parse($"198.51.100.{i}"), 80));
        return table;
    }

    private static ParsedPacket Packet(int i, byte flags) => new()
    {
        L3Offset = 14,
        L4Offset = 34,
        Protocol = 6,
        TcpFlags = flags,
        SourceAddress = ClientBase + 10 + (uint)(i % 8),
        DestinationAddress = VipU32,
        SourcePort = (ushort)(40000 + i),
        DestinationPort = 80,
        IpLength = 60,
    };
}
