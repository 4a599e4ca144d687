using System.Net;
using BenchmarkDotNet.Attributes;
using Fulcrum.Balancing;
using Fulcrum.Balancing.Schedulers;
using Fulcrum.Packets;

namespace Fulcrum.Benchmarks;

/// <summary>
/// One scheduling decision (IScheduler.Pick) per scheduler over 8 real servers with weights 1..8 and
/// uneven loads, for 64 packets of distinct clients and targets (so sh/mh/dh/lblc/lblcr hash or look up a
/// different key each time). Tables are built in setup, as the control plane does; 0 B allocated.
/// </summary>
[MemoryDiagnoser]
public class SchedulerBenchmarks
{
    private const int Batch = 64;
    private const uint VipU32 = (198u << 24) | (51u << 16) | (100u << 8) | 100u;

    private readonly ParsedPacket[] _packets = new ParsedPacket[Batch];
    private IScheduler _scheduler = null!;
    private VirtualService _service = null!;

    [Params("rr", "wrr", "lc", "wlc", "sed", "nq", "dh", "sh", "lblc", "lblcr", "mh", "fo", "ovf", "twos")]
    public string Scheduler { get; set; } = "rr";

    [GlobalSetup]
    public void Setup()
    {
        var table = new IpvsTable(TimeProvider.System, 1, 1 << 16);
        var key = new ServiceKey(IpProtocol.Tcp, IPAddress.Parse("198.51.100.100"), 80);
        table.AddService(new ServiceSpec(key, Scheduler, SchedulerFlags.Flag1));
        for (int i = 0; i < 8; i++)
            table.AddDest(key, new DestSpec(IPAddress.Parse($"198.51.100.{10 + i}"), 80, ForwardingMethod.DirectRoute, i + 1));
        _service = table.Snapshot.Services[0];
        var dests = _service.DestArray;
        for (int i = 0; i < dests.Length; i++)
        {
            ref var c = ref dests[i].Counters.Slot(0);
            c.ActiveConns = 3 * i + 1;
            c.InactiveConns = 17 * i;
        }
        _scheduler = SchedulerFactory.Create(Scheduler);
        _scheduler.Update(_service.DestSet);
        for (int i = 0; i < Batch; i++)
        {
            _packets[i] = new ParsedPacket
            {
                L3Offset = 14,
                L4Offset = 34,
                Protocol = 6,
                TcpFlags = 0x02,
                SourceAddress = (203u << 24) | (113u << 8) | (uint)(i * 37),
                DestinationAddress = VipU32 + (uint)i,
                SourcePort = (ushort)(40000 + i),
                DestinationPort = 80,
                IpLength = 60,
            };
        }
        // Fill lblc/lblcr caches before measuring.
        Decide();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Decide()
    {
        int found = 0;
        var s = _scheduler;
        var svc = _service;
        var packets = _packets;
        for (int i = 0; i < packets.Length; i++)
        {
            if (s.Pick(svc, in packets[i], 1_000_000) is not null)
                found++;
        }
        return found;
    }
}
