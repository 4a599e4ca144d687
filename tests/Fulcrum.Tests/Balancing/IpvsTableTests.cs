using System.Net;
using Fulcrum.Balancing;
using Microsoft.Extensions.Time.Testing;
using static Fulcrum.Tests.Balancing.Lab;

namespace Fulcrum.Tests.Balancing;

public class IpvsTableTests
{
    private readonly FakeTimeProvider _time = new();

    private IpvsTable NewTable() => new(_time, 1, 64);

    [Fact]
    public void AddService_New_ListedWithSpec()
    {
        var t = NewTable();
        var spec = new ServiceSpec(Tcp80, "rr");

        Assert.Equal(IpvsErrno.Ok, t.AddService(spec));

        var info = Assert.Single(t.GetServices());
        Assert.Equal(spec, info.Spec);
        Assert.Empty(info.Dests);
        Assert.Equal(spec, t.GetService(Tcp80)!.Spec);
    }

    [Fact]
    public void AddService_Existing_Eexist()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));

        Assert.Equal(IpvsErrno.EEXIST, t.AddService(new ServiceSpec(Tcp80, "wlc")));
        Assert.Equal("rr", t.GetService(Tcp80)!.Spec.Scheduler);
    }

    [Theory]
    [InlineData("rr")]
    [InlineData("wrr")]
    [InlineData("lc")]
    [InlineData("wlc")]
    [InlineData("sed")]
    [InlineData("nq")]
    [InlineData("dh")]
    [InlineData("sh")]
    [InlineData("lblc")]
    [InlineData("lblcr")]
    [InlineData("mh")]
    [InlineData("fo")]
    [InlineData("ovf")]
    [InlineData("twos")]
    public void AddService_SupportedScheduler_Ok(string scheduler) =>
        Assert.Equal(IpvsErrno.Ok, NewTable().AddService(new ServiceSpec(Tcp80, scheduler)));

    [Theory]
    [InlineData("nosuch")]
    [InlineData("RR")]
    [InlineData("")]
    public void AddService_UnknownScheduler_Enoent(string scheduler)
    {
        var t = NewTable();
        Assert.Equal(IpvsErrno.ENOENT, t.AddService(new ServiceSpec(Tcp80, scheduler)));
        Assert.Empty(t.GetServices());
    }

    [Fact]
    public void AddService_UnknownPersistenceEngine_Enoent() =>
        Assert.Equal(IpvsErrno.ENOENT, NewTable().AddService(new ServiceSpec(Tcp80, "rr", PersistenceTimeout: 360, PersistenceEngine: "sip")));

    [Fact]
    public void AddService_Ipv6BadPrefix_Einval()
    {
        var key = new ServiceKey(IpProtocol.Tcp, IPAddress.Parse("2001:db8:100::100"), 80);
        Assert.Equal(IpvsErrno.EINVAL, NewTable().AddService(new ServiceSpec(key, "rr", NetmaskPrefix: 0)));
        Assert.Equal(IpvsErrno.Ok, NewTable().AddService(new ServiceSpec(key, "rr", NetmaskPrefix: 128)));
    }

    [Fact]
    public void EditService_Missing_Esrch() =>
        Assert.Equal(IpvsErrno.ESRCH, NewTable().EditService(new ServiceSpec(Tcp80, "rr")));

    [Fact]
    public void EditService_MissingAndUnknownScheduler_EsrchFirst() =>
        Assert.Equal(IpvsErrno.ESRCH, NewTable().EditService(new ServiceSpec(Tcp80, "nosuch")));

    [Fact]
    public void EditService_UnknownScheduler_EnoentAndUnchanged()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));

        Assert.Equal(IpvsErrno.ENOENT, t.EditService(new ServiceSpec(Tcp80, "nosuch")));
        Assert.Equal("rr", t.GetService(Tcp80)!.Spec.Scheduler);
    }

    [Fact]
    public void EditService_Existing_ReplacesSpec()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));

        Assert.Equal(IpvsErrno.Ok, t.EditService(new ServiceSpec(Tcp80, "wrr", PersistenceTimeout: 360)));

        var spec = t.GetService(Tcp80)!.Spec;
        Assert.Equal("wrr", spec.Scheduler);
        Assert.Equal(360u, spec.PersistenceTimeout);
    }

    [Fact]
    public void DeleteService_Missing_Esrch() =>
        Assert.Equal(IpvsErrno.ESRCH, NewTable().DeleteService(Tcp80));

    [Fact]
    public void DeleteService_Existing_Gone()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));

        Assert.Equal(IpvsErrno.Ok, t.DeleteService(Tcp80));

        Assert.Empty(t.GetServices());
        Assert.Null(t.GetService(Tcp80));
        Assert.Null(t.Snapshot.Find(6, U32(Vip), 80));
    }

    [Fact]
    public void Flush_TwoServices_AllGone()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        t.AddService(new ServiceSpec(Udp53, "rr"));

        Assert.Equal(IpvsErrno.Ok, t.Flush());

        Assert.Empty(t.GetServices());
        Assert.Empty(t.Snapshot.Services);
    }

    [Fact]
    public void AddDest_NoService_Esrch() =>
        Assert.Equal(IpvsErrno.ESRCH, NewTable().AddDest(Tcp80, new DestSpec(Rs1, 80)));

    [Fact]
    public void AddDest_Twice_Eexist()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        Assert.Equal(IpvsErrno.Ok, t.AddDest(Tcp80, new DestSpec(Rs1, 80)));

        Assert.Equal(IpvsErrno.EEXIST, t.AddDest(Tcp80, new DestSpec(Rs1, 80, Weight: 5)));
        Assert.Equal(1, t.Dest(Tcp80, Rs1).Spec.Weight);
    }

    [Fact]
    public void AddDest_LowerAboveUpper_Erange()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));

        Assert.Equal(IpvsErrno.ERANGE, t.AddDest(Tcp80, new DestSpec(Rs1, 80, UpperThreshold: 10, LowerThreshold: 11)));
        // ipvsadm -y N without -x: the upper threshold stays 0 < N.
        Assert.Equal(IpvsErrno.ERANGE, t.AddDest(Tcp80, new DestSpec(Rs1, 80, LowerThreshold: 1)));
        Assert.Empty(t.GetService(Tcp80)!.Dests);
    }

    [Fact]
    public void AddDest_NegativeWeight_Erange()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        Assert.Equal(IpvsErrno.ERANGE, t.AddDest(Tcp80, new DestSpec(Rs1, 80, Weight: -1)));
    }

    [Fact]
    public void AddDest_OtherFamilyWithoutTunnel_Einval()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        var v6 = IPAddress.Parse("2001:db8::2");

        Assert.Equal(IpvsErrno.EINVAL, t.AddDest(Tcp80, new DestSpec(v6, 80, ForwardingMethod.DirectRoute)));
        Assert.Equal(IpvsErrno.Ok, t.AddDest(Tcp80, new DestSpec(v6, 80, ForwardingMethod.Tunnel)));
    }

    [Theory]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("0.0.0.0")]
    public void AddDest_NotUnicast_Einval(string address)
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        Assert.Equal(IpvsErrno.EINVAL, t.AddDest(Tcp80, new DestSpec(IPAddress.Parse(address), 80)));
    }

    [Theory]
    [InlineData(ForwardingMethod.DirectRoute, 80)]
    [InlineData(ForwardingMethod.Tunnel, 80)]
    [InlineData(ForwardingMethod.Masquerade, 8080)]
    public void AddDest_PortMapping_OnlyForNat(ForwardingMethod method, int storedPort)
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));

        Assert.Equal(IpvsErrno.Ok, t.AddDest(Tcp80, new DestSpec(Rs1, 8080, method)));

        Assert.Equal(storedPort, t.Dest(Tcp80, Rs1).Spec.Port);
        Assert.Equal(storedPort, t.Snapshot.Services[0].Dests[0].Port);
    }

    [Fact]
    public void AddDest_FwMarkService_KeepsPort()
    {
        var t = NewTable();
        var key = new ServiceKey(IpProtocol.Tcp, IPAddress.Any, 0, 7);
        t.AddService(new ServiceSpec(key, "rr"));

        Assert.Equal(IpvsErrno.Ok, t.AddDest(key, new DestSpec(Rs1, 8080)));
        Assert.Equal(8080, t.GetService(key)!.Dests[0].Spec.Port);
    }

    [Fact]
    public void AddDest_Three_ListedInInsertionOrderScheduledNewestFirst()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        t.AddDest(Tcp80, new DestSpec(Rs1, 80));
        t.AddDest(Tcp80, new DestSpec(Rs2, 80));
        t.AddDest(Tcp80, new DestSpec(Rs3, 80));

        Assert.Equal([Rs1, Rs2, Rs3], t.GetService(Tcp80)!.Dests.Select(d => d.Spec.Address));
        Assert.Equal([Rs3, Rs2, Rs1], t.Snapshot.Services[0].Dests.Select(d => d.Address));
    }

    [Fact]
    public void EditDest_NoService_Esrch() =>
        Assert.Equal(IpvsErrno.ESRCH, NewTable().EditDest(Tcp80, new DestSpec(Rs1, 80)));

    [Fact]
    public void EditDest_NoDest_Enoent()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        Assert.Equal(IpvsErrno.ENOENT, t.EditDest(Tcp80, new DestSpec(Rs1, 80)));
    }

    [Fact]
    public void EditDest_LowerAboveUpper_ErangeBeforeEnoent()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        Assert.Equal(IpvsErrno.ERANGE, t.EditDest(Tcp80, new DestSpec(Rs1, 80, UpperThreshold: 1, LowerThreshold: 2)));
    }

    [Fact]
    public void EditDest_Existing_KeepsObjectAndUpdatesFields()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        t.AddDest(Tcp80, new DestSpec(Rs1, 80));
        var before = t.Snapshot.Services[0].Dests[0];

        // ipvsadm -e -r RS:9999 -g: DR forces the service port, so this edits RS:80.
        Assert.Equal(IpvsErrno.Ok, t.EditDest(Tcp80, new DestSpec(Rs1, 9999, ForwardingMethod.DirectRoute, 7, 100, 50)));

        var after = t.Snapshot.Services[0].Dests[0];
        Assert.Same(before, after);
        Assert.Equal(7, after.Weight);
        Assert.Equal(100u, after.UpperThreshold);
        Assert.Equal(50u, after.LowerThreshold);
        Assert.Equal(new DestSpec(Rs1, 80, ForwardingMethod.DirectRoute, 7, 100, 50), t.Dest(Tcp80, Rs1).Spec);
    }

    [Fact]
    public void DeleteDest_NoService_Esrch() =>
        Assert.Equal(IpvsErrno.ESRCH, NewTable().DeleteDest(Tcp80, Rs1, 80));

    [Fact]
    public void DeleteDest_NoDest_Enoent()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        t.AddDest(Tcp80, new DestSpec(Rs1, 80));

        Assert.Equal(IpvsErrno.ENOENT, t.DeleteDest(Tcp80, Rs2, 80));
        // The port is matched exactly: a DR dest is stored with the service port.
        Assert.Equal(IpvsErrno.ENOENT, t.DeleteDest(Tcp80, Rs1, 8080));
    }

    [Fact]
    public void DeleteDest_Existing_GoneAndUnavailable()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        t.AddDest(Tcp80, new DestSpec(Rs1, 80));
        t.AddDest(Tcp80, new DestSpec(Rs2, 80));
        var rs1 = t.Snapshot.Services[0].Dests.Single(d => d.Address.Equals(Rs1));

        Assert.Equal(IpvsErrno.Ok, t.DeleteDest(Tcp80, Rs1, 80));

        Assert.Equal([Rs2], t.GetService(Tcp80)!.Dests.Select(d => d.Spec.Address));
        Assert.False(rs1.IsAvailable);
    }

    [Fact]
    public void Zero_MissingService_Esrch() =>
        Assert.Equal(IpvsErrno.ESRCH, NewTable().Zero(Tcp80));

    [Fact]
    public void Zero_All_CountersRestartButConnectionsStay()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        w.Open(t, 1000);
        w.Open(t, 1001);

        Assert.Equal(IpvsErrno.Ok, t.Zero(null));

        var svc = t.GetService(Tcp80)!;
        Assert.Equal(default, svc.Stats);
        Assert.Equal(default, svc.Dests[0].Stats);
        Assert.Equal(2u, svc.Dests[0].ActiveConns);

        w.Open(t, 1002);
        Assert.Equal(1ul, t.GetService(Tcp80)!.Stats.Conns);
        Assert.Equal(1ul, t.GetService(Tcp80)!.Dests[0].Stats.InPackets);
    }

    [Fact]
    public void Zero_OneService_OthersKeepCounters()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        t.AddService(new ServiceSpec(Udp53, "rr"));
        t.AddDest(Tcp80, new DestSpec(Rs1, 80));
        t.AddDest(Udp53, new DestSpec(Rs1, 53));
        var w = t.CreateWorker(0);
        w.Open(t, 1000);
        var udp = Udp(2000);
        w.Process(ref udp, t.NowMs, out _, out _);

        Assert.Equal(IpvsErrno.Ok, t.Zero(Udp53));

        Assert.Equal(0ul, t.GetService(Udp53)!.Stats.Conns);
        Assert.Equal(1ul, t.GetService(Tcp80)!.Stats.Conns);
    }

    [Fact]
    public void Timeouts_Default_KernelValues() =>
        Assert.Equal(new IpvsTimeouts(900, 120, 300), NewTable().GetTimeouts());

    [Fact]
    public void SetTimeouts_ZeroMeansUnchanged()
    {
        var t = NewTable();

        Assert.Equal(IpvsErrno.Ok, t.SetTimeouts(new IpvsTimeouts(0, 30, 0)));
        Assert.Equal(new IpvsTimeouts(900, 30, 300), t.GetTimeouts());

        Assert.Equal(IpvsErrno.Ok, t.SetTimeouts(new IpvsTimeouts(60, 0, 10)));
        Assert.Equal(new IpvsTimeouts(60, 30, 10), t.GetTimeouts());
        Assert.Equal(60_000, t.Snapshot.TcpTimeoutMs(IpvsTcpState.Established));
        Assert.Equal(30_000, t.Snapshot.TcpTimeoutMs(IpvsTcpState.FinWait));
        Assert.Equal(10_000, t.Snapshot.UdpTimeoutMs);
    }

    [Fact]
    public void SetTimeouts_Negative_Einval()
    {
        var t = NewTable();
        Assert.Equal(IpvsErrno.EINVAL, t.SetTimeouts(new IpvsTimeouts(-1, 0, 0)));
        Assert.Equal(new IpvsTimeouts(900, 120, 300), t.GetTimeouts());
    }

    [Fact]
    public void Changed_RaisedOnSuccessOnly()
    {
        var t = NewTable();
        int raised = 0;
        t.Changed += () => raised++;

        t.AddService(new ServiceSpec(Tcp80, "rr"));
        t.AddService(new ServiceSpec(Tcp80, "rr"));      // EEXIST
        t.AddDest(Tcp80, new DestSpec(Rs1, 80));
        t.AddDest(Udp53, new DestSpec(Rs1, 53));         // ESRCH
        t.EditDest(Tcp80, new DestSpec(Rs1, 80, Weight: 3));
        t.DeleteDest(Tcp80, Rs2, 80);                    // ENOENT
        t.SetTimeouts(new IpvsTimeouts(1, 1, 1));
        t.DeleteService(Tcp80);

        Assert.Equal(5, raised);
    }

    [Fact]
    public void Snapshot_EveryChange_NewGenerationAndLookup()
    {
        var t = NewTable();
        var g0 = t.Snapshot.Generation;
        t.AddService(new ServiceSpec(Tcp80, "rr"));
        t.AddService(new ServiceSpec(Udp53, "rr"));

        var snap = t.Snapshot;
        Assert.True(snap.Generation > g0);
        Assert.Equal(Tcp80, snap.Find(6, U32(Vip), 80)!.Key);
        Assert.Equal(Udp53, snap.Find(17, U32(Vip), 53)!.Key);
        Assert.Null(snap.Find(17, U32(Vip), 80));
        Assert.Null(snap.Find(6, U32(Vip), 81));
        Assert.Null(snap.Find(6, U32(Rs1), 80));
    }

    [Fact]
    public void Snapshot_ManyServices_AllFound()
    {
        var t = new IpvsTable(_time, 1, 16);
        for (ushort port = 1; port <= 300; port++)
            Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(new ServiceKey(port % 2 == 0 ? IpProtocol.Tcp : IpProtocol.Udp, Vip, port), "rr")));

        var snap = t.Snapshot;
        for (ushort port = 1; port <= 300; port++)
        {
            byte proto = (byte)(port % 2 == 0 ? 6 : 17);
            Assert.Equal(port, snap.Find(proto, U32(Vip), port)!.Port);
            Assert.Null(snap.Find((byte)(23 - proto), U32(Vip), port));
        }
    }

    [Fact]
    public void Snapshot_FwMarkAndIpv6Services_ListedButNeverMatched()
    {
        var t = NewTable();
        t.AddService(new ServiceSpec(new ServiceKey(IpProtocol.Tcp, IPAddress.Any, 0, 1), "rr"));
        t.AddService(new ServiceSpec(new ServiceKey(IpProtocol.Tcp, IPAddress.Parse("2001:db8:100::100"), 80), "rr"));

        Assert.Equal(2, t.Snapshot.Services.Count);
        Assert.Null(t.Snapshot.Find(6, 0, 0));
    }

    [Fact]
    public void NowMs_FollowsTimeProvider()
    {
        var t = NewTable();
        long before = t.NowMs;
        _time.Advance(TimeSpan.FromMilliseconds(1234));
        Assert.Equal(before + 1234, t.NowMs);
    }

    [Fact]
    public void ConnectionTableSize_KernelDefault() =>
        Assert.Equal(4096, NewTable().ConnectionTableSize);

    [Fact]
    public void CreateWorker_SameIndex_SameBalancer()
    {
        var t = new IpvsTable(_time, 2, 16);
        Assert.Same(t.CreateWorker(1), t.CreateWorker(1));
        Assert.NotSame(t.CreateWorker(0), t.CreateWorker(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.CreateWorker(2));
    }
}
