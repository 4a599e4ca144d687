using BenchmarkDotNet.Attributes;
using Fulcrum.Linux.Bpf;
using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Benchmarks;

/// <summary>
/// The kernel tier's BPF programs per packet, run by the kernel on a 64-byte UDP frame with BPF_PROG_TEST_RUN
/// (`Repeat` runs per call, so the syscall is spread thin): an installed flow (the hit: lookup, MAC rewrite,
/// per-CPU counters, redirect/XDP_TX verdict) and a flow the map does not hold (the miss that goes up to C#).
/// Needs root. The hit's entry names the director's own MAC as the real server's, so the rewritten frame still
/// matches on the next repetition (BPF_PROG_TEST_RUN reuses one buffer); the work per packet is the same.
/// The C# side of the call allocates nothing, which the memory column shows.
/// </summary>
[MemoryDiagnoser]
public class KernelTierBenchmarks
{
    private const int Repeat = 100_000;

    private static readonly ulong DirectorMac = FrameBuilder.Mac("02:00:c6:33:64:0b");
    private static readonly uint Client = FrameBuilder.Ip("203.0.113.10");
    private static readonly uint Vip = FrameBuilder.Ip("198.51.100.100");

    private readonly byte[] _out = new byte[256];
    private KernelTier _tier = null!;
    private byte[] _hit = null!;
    private byte[] _miss = null!;

    [Params("fulcrum_tc", "fulcrum_xdp")]
    public string Program { get; set; } = "fulcrum_tc";

    [GlobalSetup]
    public void Setup()
    {
        _tier = KernelTier.OpenDetached(DirectorMac);
        if (!_tier.Install(IpProtocols.Udp, Client, 40000, Vip, 5201, DirectorMac))
            throw new InvalidOperationException("the connection map refused the benchmark's entry");
        _hit = Frame(40000);
        _miss = Frame(40001);
    }

    [GlobalCleanup]
    public void Cleanup() => _tier.Dispose();

    [Benchmark(OperationsPerInvoke = Repeat)]
    public uint Hit()
    {
        _tier.TestRun(Program, _hit, _out, Repeat, out uint verdict, out _);
        return verdict;
    }

    [Benchmark(OperationsPerInvoke = Repeat)]
    public uint Miss()
    {
        _tier.TestRun(Program, _miss, _out, Repeat, out uint verdict, out _);
        return verdict;
    }

    private static byte[] Frame(ushort clientPort) =>
        new FrameBuilder().WithMacs(FrameBuilder.Mac("02:00:c6:33:64:01"), DirectorMac)
            .WithIpv4(Client, Vip).Udp(clientPort, 5201).WithPayload(18).Build();
}
