using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Director;
using Fulcrum.Linux.Bpf;
using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Director;

/// <summary>What `--driver afxdp` changes above the ring: checksum repair on the path, worker count, driver choice.</summary>
public class AfXdpPathTests
{
    private static readonly ulong Director = FrameBuilder.Mac("02:00:c6:33:64:0b");
    private static readonly ulong Client = FrameBuilder.Mac("02:00:c6:33:64:fe");
    private static readonly ulong RealServer = FrameBuilder.Mac("02:00:c6:33:64:02");

    [Fact]
    public void Process_RepairOn_PartialSumWithoutTheMark_IsCompleted()
    {
        var path = NewPath(out var table, repair: true);
        var frame = Segment().WithPartialL4Checksum().Build();
        var complete = Segment().Build();

        // AF_XDP: checksumNotReady is always false, the path looks for the partial form itself.
        Assert.True(path.Process(frame, checksumNotReady: false, table.NowMs));

        Assert.Equal(complete.AsSpan(12).ToArray(), frame.AsSpan(12).ToArray());
        Assert.Equal(1, path.ChecksumsCompleted);
    }

    [Fact]
    public void Process_RepairOn_CompleteSum_Untouched()
    {
        var path = NewPath(out var table, repair: true);
        var frame = Segment().Build();
        var original = frame.ToArray();

        Assert.True(path.Process(frame, checksumNotReady: false, table.NowMs));

        Assert.Equal(original.AsSpan(12).ToArray(), frame.AsSpan(12).ToArray());
        Assert.Equal(0, path.ChecksumsCompleted);
    }

    [Fact]
    public void Process_RepairOff_PartialSumWithoutTheMark_LeftAsAfPacketWouldNeverSeeIt()
    {
        var path = NewPath(out var table, repair: false);
        var frame = Segment().WithPartialL4Checksum().Build();
        var partial = frame.ToArray();

        Assert.True(path.Process(frame, checksumNotReady: false, table.NowMs));

        Assert.Equal(partial.AsSpan(12).ToArray(), frame.AsSpan(12).ToArray());
    }

    [Fact]
    public void FitWorkers_AfXdpOnOneQueue_OneWorker()
    {
        // lo has one RX queue, as the lab's veths do.
        var options = DataPlaneService.FitWorkers(new DirectorOptions { Driver = "afxdp", Interface = "lo", Workers = 4 });
        Assert.Equal(1, options.ResolvedWorkers);
    }

    [Fact]
    public void FitWorkers_OtherDrivers_Unchanged()
    {
        var options = new DirectorOptions { Driver = "afpacket", Interface = "lo", Workers = 4 };
        Assert.Same(options, DataPlaneService.FitWorkers(options));
    }

    [Fact]
    public void Choose_AfXdp_NoKernelTier()
    {
        Assert.Null(KernelDriver.Choose("afxdp", "eth0", out string why));
        Assert.Contains("AF_XDP", why, StringComparison.Ordinal);
    }

    private static FrameBuilder Segment() => new FrameBuilder()
        .WithMacs(Client, Director)
        .WithIpv4("203.0.113.10", "198.51.100.100")
        .Tcp(40000, 80)
        .WithPayload(40);

    private static ForwardingPath NewPath(out IpvsTable table, bool repair)
    {
        table = new IpvsTable(TimeProvider.System);
        var key = new ServiceKey(IpProtocol.Tcp, IPAddress.Parse("198.51.100.100"), 80);
        Assert.Equal(0, table.AddService(new ServiceSpec(key, "rr")));
        Assert.Equal(0, table.AddDest(key, new DestSpec(IPAddress.Parse("198.51.100.2"), 80)));
        table.Snapshot.Services[0].Dests[0].Mac = RealServer;
        return new ForwardingPath(table.CreateWorker(0), Director, repairPartialChecksums: repair);
    }
}
