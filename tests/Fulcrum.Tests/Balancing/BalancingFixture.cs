using System.Buffers.Binary;
using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Packets;
using Microsoft.Extensions.Time.Testing;

namespace Fulcrum.Tests.Balancing;

/// <summary>Builds tables, keys and hand-filled packets for the balancing tests (lab addresses only).</summary>
internal static class Lab
{
    public const byte Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10;

    public static readonly IPAddress Vip = IPAddress.Parse("198.51.100.100");
    public static readonly IPAddress Rs1 = IPAddress.Parse("198.51.100.2");
    public static readonly IPAddress Rs2 = IPAddress.Parse("198.51.100.3");
    public static readonly IPAddress Rs3 = IPAddress.Parse("198.51.100.4");
    public static readonly IPAddress Client = IPAddress.Parse("203.0.113.10");

    public static ServiceKey Tcp80 => new(IpProtocol.Tcp, Vip, 80);
    public static ServiceKey Udp53 => new(IpProtocol.Udp, Vip, 53);

    public static uint U32(IPAddress a)
    {
        Span<byte> b = stackalloc byte[4];
        a.TryWriteBytes(b, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(b);
    }

    public static ParsedPacket Tcp(ushort clientPort, byte flags, int length = 60, IPAddress? client = null, ushort vport = 80) => new()
    {
        L3Offset = 14,
        L4Offset = 34,
        Protocol = 6,
        TcpFlags = flags,
        SourceAddress = U32(client ?? Client),
        DestinationAddress = U32(Vip),
        SourcePort = clientPort,
        DestinationPort = vport,
        IpLength = length,
    };

    public static ParsedPacket Udp(ushort clientPort, int length = 40, IPAddress? client = null, ushort vport = 53) => new()
    {
        L3Offset = 14,
        L4Offset = 34,
        Protocol = 17,
        SourceAddress = U32(client ?? Client),
        DestinationAddress = U32(Vip),
        SourcePort = clientPort,
        DestinationPort = vport,
        IpLength = length,
    };

    /// <summary>A table with one service and the given dests added in order (the kernel lists them newest first).</summary>
    public static IpvsTable Table(FakeTimeProvider time, string scheduler, ServiceKey key, int capacity = 1024, int workers = 1, params (IPAddress Address, int Weight)[] dests)
    {
        var table = new IpvsTable(time, workers, capacity);
        Assert.Equal(IpvsErrno.Ok, table.AddService(new ServiceSpec(key, scheduler)));
        foreach (var (address, weight) in dests)
            Assert.Equal(IpvsErrno.Ok, table.AddDest(key, new DestSpec(address, key.Port, ForwardingMethod.DirectRoute, weight)));
        return table;
    }

    public static RealServer? Send(this Balancer b, IpvsTable table, ParsedPacket p, out BalanceVerdict verdict, out DropReason reason)
    {
        verdict = b.Process(ref p, table.NowMs, out var dest, out reason);
        return dest;
    }

    /// <summary>Opens a TCP connection (SYN) and returns where it went; asserts it was forwarded.</summary>
    public static RealServer Open(this Balancer b, IpvsTable table, ushort clientPort, IPAddress? client = null)
    {
        var dest = b.Send(table, Tcp(clientPort, Syn, client: client), out var verdict, out var reason);
        Assert.Equal(BalanceVerdict.Forward, verdict);
        Assert.Equal(DropReason.None, reason);
        return dest!;
    }

    public static DestInfo Dest(this IpvsTable table, ServiceKey key, IPAddress address) =>
        table.GetService(key)!.Dests.Single(d => d.Spec.Address.Equals(address));
}
