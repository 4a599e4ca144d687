using System.Buffers.Binary;
using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Packets;
using Microsoft.Extensions.Time.Testing;

namespace Fulcrum.Tests.Balancing;

/// <summary>IPv6 services, connection keys and persistence prefixes through the balancer.</summary>
public class Ipv6BalancingTests
{
    private static readonly IPAddress Vip6 = IPAddress.Parse("2001:db8:100::100");
    private static readonly IPAddress[] Rs6 = [IPAddress.Parse("2001:db8:100::2"), IPAddress.Parse("2001:db8:100::3"), IPAddress.Parse("2001:db8:100::4")];
    private static readonly IPAddress Client6 = IPAddress.Parse("2001:db8:113::10");
    private static readonly ServiceKey Tcp6 = new(IpProtocol.Tcp, Vip6, 80);

    private readonly FakeTimeProvider _time = new();

    private static UInt128 U128(IPAddress a) => BinaryPrimitives.ReadUInt128BigEndian(a.GetAddressBytes());

    private static ParsedPacket Tcp(ushort clientPort, byte flags, IPAddress? client = null, IPAddress? vip = null, ushort vport = 80)
    {
        UInt128 s = U128(client ?? Client6), d = U128(vip ?? Vip6);
        return new ParsedPacket
        {
            L3Offset = 14,
            L4Offset = 54,
            Protocol = 6,
            TcpFlags = flags,
            IsIPv6 = true,
            SourceAddress6 = s,
            DestinationAddress6 = d,
            SourceAddress = ParsedPacket.Fold(s),
            DestinationAddress = ParsedPacket.Fold(d),
            SourcePort = clientPort,
            DestinationPort = vport,
            IpLength = 80,
        };
    }

    private IpvsTable Table(string scheduler = "rr", uint timeout = 0, int prefix = 128)
    {
        var t = new IpvsTable(_time, 1, 1024);
        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(Tcp6, scheduler, PersistenceTimeout: timeout, NetmaskPrefix: prefix)));
        foreach (var rs in Rs6)
            Assert.Equal(IpvsErrno.Ok, t.AddDest(Tcp6, new DestSpec(rs, 80)));
        return t;
    }

    private static RealServer? Send(Balancer b, IpvsTable t, ParsedPacket p, out BalanceVerdict verdict)
    {
        verdict = b.Process(ref p, t.NowMs, out var dest, out _);
        return dest;
    }

    [Fact]
    public void Process_Ipv6SynsRoundRobin_OverThreeIpv6Dests_AndFollowUpsStay()
    {
        var t = Table();
        var w = t.CreateWorker(0);
        var picked = new List<IPAddress>();
        for (ushort port = 40000; port < 40006; port++)
        {
            picked.Add(Send(w, t, Tcp(port, Lab.Syn), out var v)!.Address);
            Assert.Equal(BalanceVerdict.Forward, v);
        }

        Assert.Equal(3, picked.Distinct().Count());
        Assert.Equal(picked[0], picked[3]);
        for (ushort port = 40000; port < 40006; port++)
            Assert.Equal(picked[port - 40000], Send(w, t, Tcp(port, Lab.Ack), out _)!.Address);
        Assert.Equal(6, w.Count);
    }

    [Fact]
    public void Process_Ipv6PacketToIpv4ServiceFold_IsNotAService()
    {
        // An IPv4 service whose VIP equals the fold of the IPv6 VIP must not match the IPv6 packet.
        var p = Tcp(40000, Lab.Syn);
        var v4 = new IPAddress(BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(p.DestinationAddress) : p.DestinationAddress);
        var t = new IpvsTable(_time, 1, 1024);
        var key = new ServiceKey(IpProtocol.Tcp, v4, 80);
        Assert.Equal(IpvsErrno.Ok, t.AddService(new ServiceSpec(key, "rr")));
        Assert.Equal(IpvsErrno.Ok, t.AddDest(key, new DestSpec(Lab.Rs1, 80)));

        Send(t.CreateWorker(0), t, p, out var verdict);

        Assert.Equal(BalanceVerdict.NotService, verdict);
    }

    [Fact]
    public void Process_Ipv6AckWithoutConnection_DroppedAsNotSyn()
    {
        var t = Table();
        var p = Tcp(40000, Lab.Ack);
        Assert.Equal(BalanceVerdict.Drop, t.CreateWorker(0).Process(ref p, t.NowMs, out _, out var reason));
        Assert.Equal(DropReason.NotSyn, reason);
    }

    [Fact]
    public void Persistence_Prefix64_GroupsClientsOfOneSlash64_AndSeparatesOthers()
    {
        var t = Table(timeout: 30, prefix: 64);
        var w = t.CreateWorker(0);
        var first = Send(w, t, Tcp(40000, Lab.Syn), out _)!.Address;

        Assert.Equal(first, Send(w, t, Tcp(40001, Lab.Syn, IPAddress.Parse("2001:db8:113::ffff:1")), out _)!.Address);
        Assert.Equal(first, Send(w, t, Tcp(40002, Lab.Syn, IPAddress.Parse("2001:db8:113:0:8000::1")), out _)!.Address);
        // Another /64: the template does not cover it, rr moves on.
        Assert.NotEqual(first, Send(w, t, Tcp(40003, Lab.Syn, IPAddress.Parse("2001:db8:113:1::10")), out _)!.Address);

        var templates = t.GetConnections().Where(c => c.ClientPort == 0).ToList();
        Assert.Equal(2, templates.Count);
        Assert.Contains(templates, c => c.Client.Equals(IPAddress.Parse("2001:db8:113::")) && c.VirtualAddress.Equals(Vip6));
    }

    [Fact]
    public void Persistence_Prefix128_TwoClientsOfOneSlash64_ScheduledApart()
    {
        var t = Table(timeout: 30, prefix: 128);
        var w = t.CreateWorker(0);
        var a = Send(w, t, Tcp(40000, Lab.Syn), out _)!.Address;
        var b = Send(w, t, Tcp(40001, Lab.Syn, IPAddress.Parse("2001:db8:113::11")), out _)!.Address;
        Assert.NotEqual(a, b);
        Assert.Equal(a, Send(w, t, Tcp(40002, Lab.Syn), out _)!.Address);
    }

    [Fact]
    public void GetConnections_Ipv6Connection_ListsFullAddresses()
    {
        var t = Table();
        var w = t.CreateWorker(0);
        Send(w, t, Tcp(40000, Lab.Syn), out _);

        var c = Assert.Single(t.GetConnections());
        Assert.Equal(Client6, c.Client);
        Assert.Equal(40000, c.ClientPort);
        Assert.Equal(Vip6, c.VirtualAddress);
        Assert.Contains(c.Dest, Rs6);
        Assert.Equal("SYN_RECV", c.State);
    }

    [Fact]
    public void Expire_Ipv6Connection_RemovedAndCountersReleased()
    {
        var t = Table();
        var w = t.CreateWorker(0);
        Send(w, t, Tcp(40000, Lab.Syn), out _);
        _time.Advance(TimeSpan.FromMinutes(5));

        Assert.Equal(1, w.Expire(t.NowMs, 100));
        Assert.Equal(0, w.Count);
        Assert.Empty(t.GetConnections());
        Assert.All(t.GetService(Tcp6)!.Dests, d => Assert.Equal(0u, d.InactiveConns));
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("dh")]
    [InlineData("mh")]
    public void HashingSchedulers_Ipv6Client_SameClientSameDest(string scheduler)
    {
        var t = Table(scheduler);
        var w = t.CreateWorker(0);
        var first = Send(w, t, Tcp(40000, Lab.Syn), out var v)!.Address;
        Assert.Equal(BalanceVerdict.Forward, v);
        for (ushort port = 40001; port < 40010; port++)
            Assert.Equal(first, Send(w, t, Tcp(port, Lab.Syn), out _)!.Address);
    }
}

public class ConnectionTableIpv6Tests
{
    private static readonly UInt128 Client = BinaryPrimitives.ReadUInt128BigEndian(IPAddress.Parse("2001:db8:113::10").GetAddressBytes());
    private static readonly UInt128 Vip = BinaryPrimitives.ReadUInt128BigEndian(IPAddress.Parse("2001:db8:100::100").GetAddressBytes());

    [Fact]
    public void Add6_ThenFind6_FindsIt_AndIpv4LookupOfTheFoldsDoesNot()
    {
        var table = new ConnectionTable(64);
        int b6 = table.Bucket6(6, Client, 40000, Vip, 80);
        int i = table.Add6(b6, 6, Client, 40000, Vip, 80);

        Assert.Equal(i, table.Find6(b6, 6, Client, 40000, Vip, 80));
        Assert.Equal(Client, table.Client6(i));
        Assert.Equal(Vip, table.Virtual6(i));
        Assert.Equal(-1, table.Find6(b6, 6, Client, 40000, Vip, 80, template: true));
        Assert.Equal(-1, table.Find6(table.Bucket6(6, Client + 1, 40000, Vip, 80), 6, Client + 1, 40000, Vip, 80));

        uint cf = ParsedPacket.Fold(Client), vf = ParsedPacket.Fold(Vip);
        Assert.Equal(-1, table.Find(table.Bucket(6, cf, 40000, vf, 80), 6, cf, 40000, vf, 80));
        Assert.Equal(-1, table.Find(b6, 6, cf, 40000, vf, 80));
    }

    [Fact]
    public void Ipv4EntryWithTheFolds_NotFoundByIpv6Lookup()
    {
        var table = new ConnectionTable(64);
        uint cf = ParsedPacket.Fold(Client), vf = ParsedPacket.Fold(Vip);
        int b4 = table.Bucket(6, cf, 40000, vf, 80);
        int i4 = table.Add(b4, 6, cf, 40000, vf, 80);

        Assert.Equal(i4, table.Find(b4, 6, cf, 40000, vf, 80));
        Assert.Equal(-1, table.Find6(table.Bucket6(6, Client, 40000, Vip, 80), 6, Client, 40000, Vip, 80));
    }

    [Fact]
    public void Rekey_Ipv6Entry_FoundUnderTheNewPortsOnly()
    {
        var table = new ConnectionTable(64);
        int i = table.Add6(table.Bucket6(6, Client, 0, Vip, 80), 6, Client, 0, Vip, 80);
        table.At(i).Flags |= ConnectionFlags.Template;

        table.Rekey(i, 0, 0xFFFF);

        Assert.Equal(-1, table.Find6(table.Bucket6(6, Client, 0, Vip, 80), 6, Client, 0, Vip, 80, template: true));
        Assert.Equal(i, table.Find6(table.Bucket6(6, Client, 0, Vip, 0xFFFF), 6, Client, 0, Vip, 0xFFFF, template: true));
    }

    [Fact]
    public void Remove_Ipv6Entry_SlotReusedByIpv4_WhichIsNotIpv6()
    {
        var table = new ConnectionTable(1);
        int i = table.Add6(table.Bucket6(17, Client, 1, Vip, 53), 17, Client, 1, Vip, 53);
        Assert.True(table.IsFull);
        table.Remove(i);

        int j = table.Add(table.Bucket(17, 1, 1, 2, 53), 17, 1, 1, 2, 53);

        Assert.Equal(i, j);
        Assert.Equal(ConnectionFlags.InUse, table.At(j).Flags);
        Assert.Equal(-1, table.Find6(table.Bucket6(17, Client, 1, Vip, 53), 17, Client, 1, Vip, 53));
    }

    [Fact]
    public void Bucket6_SpreadsClientsOfOneSlash64()
    {
        var table = new ConnectionTable(1 << 12);
        var buckets = new HashSet<int>();
        for (uint host = 0; host < 1000; host++)
            buckets.Add(table.Bucket6(6, Client + host * 0x10000, 40000, Vip, 80));

        // 1000 keys into 4096 chains: a good hash leaves few collisions (expected ~890 distinct).
        Assert.True(buckets.Count > 800, buckets.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}

public class ServiceSnapshotIpv6Tests
{
    [Fact]
    public void Find6_ManyServices_FindsEachByProtocolAddressPort_AndNothingElse()
    {
        var table = new IpvsTable(TimeProvider.System);
        for (int i = 1; i <= 40; i++)
        {
            var a = IPAddress.Parse($"2001:db8:100::{i:x}");
            Assert.Equal(IpvsErrno.Ok, table.AddService(new ServiceSpec(new ServiceKey(IpProtocol.Tcp, a, 80), "rr")));
            Assert.Equal(IpvsErrno.Ok, table.AddService(new ServiceSpec(new ServiceKey(IpProtocol.Udp, a, 53), "rr")));
        }

        var snapshot = table.Snapshot;
        for (int i = 1; i <= 40; i++)
        {
            UInt128 a = BinaryPrimitives.ReadUInt128BigEndian(IPAddress.Parse($"2001:db8:100::{i:x}").GetAddressBytes());
            var tcp = snapshot.Find6(6, a, 80);
            Assert.NotNull(tcp);
            Assert.True(tcp.IsIPv6);
            Assert.Equal(a, tcp.Address6);
            Assert.Equal(IpProtocol.Udp, snapshot.Find6(17, a, 53)!.Key.Protocol);
            Assert.Null(snapshot.Find6(6, a, 53));
            Assert.Null(snapshot.Find6(17, a, 80));
        }

        Assert.Null(snapshot.Find6(6, 1, 80));
    }

    [Fact]
    public void Find6_NoIpv6Service_Null()
    {
        Assert.Null(ServiceSnapshot.Empty.Find6(6, UInt128.MaxValue, 80));
    }
}
