using System.Net;
using BenchmarkDotNet.Attributes;
using Fulcrum.Balancing;
using Fulcrum.Packets;

namespace Fulcrum.Benchmarks;

/// <summary>
/// Fwmark services fed by mark rules (Balancing/README.md, "Firewall marks"): the mark step of the service
/// lookup alone over four rules, and the balancer's whole path for established and new persistent flows of a
/// fwmark service covering ports 80 and 8080 (new flows hit the client's template).
/// </summary>
[MemoryDiagnoser]
public class FwMarkBenchmarks
{
    private const int Batch = 64;
    private const uint VipU32 = (198u << 24) | (51u << 16) | (100u << 8) | 100u;
    private const uint ClientBase = (203u << 24) | (113u << 8);
    private const string Rules = """
        ip daddr 198.51.100.0/24 udp dport 10000-20000 meta mark set 2
        ip daddr 198.51.100.100 tcp dport { 80, 8080 } meta mark set 1
        ip daddr 198.51.100.101 meta l4proto { tcp, udp } th dport 53 meta mark set 3
        ip daddr 198.51.100.102 meta mark set 4
        """;

    private readonly ParsedPacket[] _existing = new ParsedPacket[Batch];
    private readonly ParsedPacket[] _new = new ParsedPacket[Batch];
    private ServiceSnapshot _snapshot = null!;
    private Balancer _existingWorker = null!;
    private Balancer _newWorker = null!;
    private long _now;

    [GlobalSetup]
    public void Setup()
    {
        var existingTable = NewTable();
        var newTable = NewTable();
        _snapshot = existingTable.Snapshot;
        _existingWorker = existingTable.CreateWorker(0);
        _newWorker = newTable.CreateWorker(0);
        _now = 1_000_000;
        for (int i = 0; i < Batch; i++)
        {
            var syn = Packet(i, 0x02);
            _existingWorker.Process(ref syn, _now, out _, out _);
            _existing[i] = Packet(i, 0x10);
            _existingWorker.Process(ref _existing[i], _now, out _, out _);
            _new[i] = Packet(i, 0x02);
        }

        NewFlows();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int MarkLookup()
    {
        int found = 0;
        var s = _snapshot;
        var packets = _existing;
        for (int i = 0; i < packets.Length; i++)
        {
            ref var p = ref packets[i];
            if (s.FindMarked(p.Protocol, p.DestinationAddress, p.DestinationPort) is not null)
                found++;
        }
        return found;
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
        // 61 s on, the last batch (SYN_RECV, 60 s) has expired; the templates (-p 360) still hold the clients.
        _now += 61_000;
        var w = _newWorker;
        w.Expire(_now, Batch * 2);
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
        var key = new ServiceKey(IpProtocol.Tcp, IPAddress.Any, 0, 1);
        table.AddService(new ServiceSpec(key, "rr", PersistenceTimeout: 360));
        for (int i = 2; i <= 4; i++)
            table.AddDest(key, new DestSpec(IPAddress.Parse($"198.51.100.{i}"), 0));
        var errors = new List<FwMarkRuleError>();
        table.SetMarkRules(FwMarkRules.Parse(Rules, "bench", errors));
        if (errors.Count > 0)
            throw new InvalidOperationException(errors[0].ToString());
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
        DestinationPort = (ushort)(i % 2 == 0 ? 80 : 8080),
        IpLength = 60,
    };
}
