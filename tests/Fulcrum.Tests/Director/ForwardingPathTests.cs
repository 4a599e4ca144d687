using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Director;
using Fulcrum.Packets;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Director;

public class ForwardingPathTests
{
    private static readonly ulong Director = FrameBuilder.Mac("02:00:c6:33:64:0b");
    private static readonly ulong Client = FrameBuilder.Mac("02:00:c6:33:64:fe");
    private static readonly ulong RealServer = FrameBuilder.Mac("02:00:c6:33:64:02");

    [Fact]
    public void Process_SynToVipAtOurMac_RewritesOnlyTheMacs()
    {
        var path = NewPath(out var table);
        var frame = Syn(destinationMac: Director);
        var original = frame.ToArray();

        Assert.True(path.Process(frame, checksumNotReady: false, table.NowMs));

        Assert.Equal(RealServer, EthernetFrame.ReadMac(frame));
        Assert.Equal(Director, EthernetFrame.ReadMac(frame.AsSpan(6)));
        Assert.Equal(original.AsSpan(12).ToArray(), frame.AsSpan(12).ToArray());   // IP header and ports untouched
    }

    [Fact]
    public void Process_FrameForAnotherHostsMac_IsNotOurs_AndUntouched()
    {
        // A switch floods frames for an unlearned MAC (a failed MASTER's): a BACKUP must not forward them.
        var path = NewPath(out var table);
        var frame = Syn(destinationMac: FrameBuilder.Mac("02:00:c6:33:64:0c"));
        var original = frame.ToArray();

        Assert.False(path.Process(frame, checksumNotReady: false, table.NowMs));

        Assert.Equal(original, frame);
        Assert.Equal(0UL, table.GetServices()[0].Stats.Conns);
    }

    [Fact]
    public void Process_RealServerMacUnknown_CountsNoNeighbourAndDrops()
    {
        var path = NewPath(out var table, knowMac: false);
        Assert.False(path.Process(Syn(destinationMac: Director), checksumNotReady: false, table.NowMs));
        Assert.Equal(1, path.Drops(DropReason.NoNeighbour));
    }

    private static ForwardingPath NewPath(out IpvsTable table, bool knowMac = true)
    {
        table = new IpvsTable(TimeProvider.System);
        var key = new ServiceKey(IpProtocol.Tcp, IPAddress.Parse("198.51.100.100"), 80);
        Assert.Equal(0, table.AddService(new ServiceSpec(key, "rr")));
        Assert.Equal(0, table.AddDest(key, new DestSpec(IPAddress.Parse("198.51.100.2"), 80)));
        if (knowMac)
        {
            table.Snapshot.Services[0].Dests[0].Mac = RealServer;
        }

        return new ForwardingPath(table.CreateWorker(0), Director);
    }

    private static byte[] Syn(ulong destinationMac) => new FrameBuilder()
        .WithMacs(Client, destinationMac)
        .WithIpv4("203.0.113.10", "198.51.100.100")
        .Tcp(40000, 80)
        .Build();
}

public class ForwardingPathIpv6Tests
{
    private static readonly ulong Director = FrameBuilder.Mac("02:00:c6:33:64:0b");
    private static readonly ulong Client = FrameBuilder.Mac("02:00:c6:33:64:fe");
    private static readonly ulong RealServer = FrameBuilder.Mac("02:00:c6:33:64:02");

    [Fact]
    public void Process_Ipv6SynToVip_RewritesOnlyTheMacs()
    {
        var path = NewPath(out var table);
        var frame = Syn().Build();
        var original = frame.ToArray();

        Assert.True(path.Process(frame, checksumNotReady: false, table.NowMs));

        Assert.Equal(RealServer, EthernetFrame.ReadMac(frame));
        Assert.Equal(Director, EthernetFrame.ReadMac(frame.AsSpan(6)));
        Assert.Equal(original.AsSpan(12).ToArray(), frame.AsSpan(12).ToArray());
    }

    [Fact]
    public void Process_Ipv6ChecksumNotReady_CompletesWithTheIpv6PseudoHeader()
    {
        var path = NewPath(out var table);
        var frame = Syn().WithPartialL4Checksum().Build();
        var complete = Syn().Build();

        Assert.True(path.Process(frame, checksumNotReady: true, table.NowMs));

        Assert.Equal(complete.AsSpan(12).ToArray(), frame.AsSpan(12).ToArray());
        Assert.Equal(1, path.ChecksumsCompleted);
    }

    [Fact]
    public void Process_Ipv6HopByHopToVip_CountedAsExtensionHeader()
    {
        var path = NewPath(out var table);
        var frame = new FrameBuilder().WithMacs(Client, Director)
            .Ipv6(FrameBuilder.Ip6("2001:db8:113::10"), FrameBuilder.Ip6("2001:db8:100::100"), IpProtocols.Ipv6HopByHop).WithPayload(48).Build();

        Assert.False(path.Process(frame, checksumNotReady: false, table.NowMs));
        Assert.Equal(1, path.Drops(DropReason.ExtensionHeader));
    }

    private static FrameBuilder Syn() => new FrameBuilder()
        .WithMacs(Client, Director)
        .WithIpv6("2001:db8:113::10", "2001:db8:100::100")
        .Tcp(40000, 80)
        .WithPayload(3);

    private static ForwardingPath NewPath(out IpvsTable table)
    {
        table = new IpvsTable(TimeProvider.System);
        var key = new ServiceKey(IpProtocol.Tcp, IPAddress.Parse("2001:db8:100::100"), 80);
        Assert.Equal(0, table.AddService(new ServiceSpec(key, "rr")));
        Assert.Equal(0, table.AddDest(key, new DestSpec(IPAddress.Parse("2001:db8:100::2"), 80)));
        table.Snapshot.Services[0].Dests[0].Mac = RealServer;
        return new ForwardingPath(table.CreateWorker(0), Director);
    }
}
