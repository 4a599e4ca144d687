using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Config;
using Fulcrum.Director;
using Fulcrum.Health;
using Fulcrum.Linux;
using Fulcrum.Packets;
using Fulcrum.Vrrp;

namespace Fulcrum.Tests.Director;

/// <summary>One director's state as `fulcrum status` and the metrics page read it: two services, VRRP, health, two workers.</summary>
internal static class StatusFixtures
{
    public static readonly ServiceKey Web = new(IpProtocol.Tcp, IPAddress.Parse("198.51.100.100"), 80);
    public static readonly ServiceKey Mark = new(IpProtocol.Tcp, IPAddress.Any, 0, FwMark: 1);
    public static readonly DateTimeOffset Since = new(2026, 11, 26, 14, 0, 0, TimeSpan.Zero);

    public static StatusReport Report()
    {
        var web = new ServiceInfo(
            new ServiceSpec(Web, "rr"),
            [
                new DestInfo(new DestSpec(IPAddress.Parse("198.51.100.2"), 80, Weight: 1), 3, 1, 0,
                    new IpvsStats(10, 100, 0, 6000, 0), new IpvsRates(2, 20, 0, 1200, 0)),
                new DestInfo(new DestSpec(IPAddress.Parse("198.51.100.3"), 80, Weight: 2), 4, 0, 0,
                    new IpvsStats(11, 110, 0, 6600, 0), new IpvsRates(1, 10, 0, 600, 0)),
            ],
            new IpvsStats(21, 210, 0, 12600, 0), new IpvsRates(3, 30, 0, 1800, 0));
        var mark = new ServiceInfo(
            new ServiceSpec(Mark, "wlc", PersistenceTimeout: 300),
            [new DestInfo(new DestSpec(IPAddress.Parse("198.51.100.4"), 0, ForwardingMethod.Tunnel, Weight: 5), 0, 0, 1,
                new IpvsStats(1, 2, 0, 120, 0), default)],
            new IpvsStats(1, 2, 0, 120, 0), default);

        var vrrp = new VrrpInstanceStatus("VI_1", "eth0", 51, 2, VrrpInstanceState.Master, 150, IPAddress.Parse("198.51.100.11"),
            [IPAddress.Parse("198.51.100.100")], Transitions: 2);

        var vsId = new VirtualServerId(VirtualServerKind.Address, IPAddress.Parse("198.51.100.100"), 80, 0, null);
        var health = new List<RealServerHealth>
        {
            new(vsId, IPAddress.Parse("198.51.100.2"), 80, true, 1, false, Since, [new CheckerHealth("HTTP_GET", true, null, Since)]),
            new(vsId, IPAddress.Parse("198.51.100.3"), 80, true, 2, false, Since, [new CheckerHealth("HTTP_GET", true, null, Since)]),
            new(vsId, IPAddress.Parse("198.51.100.9"), 80, false, 1, false, Since.AddSeconds(30),
                [new CheckerHealth("TCP_CHECK", false, "connection refused", Since.AddSeconds(30)), new CheckerHealth("TCP_CHECK", true, null, null)]),
        };
        var vs = new List<VirtualServerHealth> { new(vsId, [Web], true, 3, false) };

        var drops = new long[(int)DropReason.Count];
        drops[(int)DropReason.NotSyn] = 5;
        drops[(int)DropReason.NoRealServer] = 2;
        var workers = new List<WorkerCounters>
        {
            new(0, new PacketRingCounters(1000, 900, 1, 0, 0, 7, 0), 890, 3, drops, 12, 1 << 20),
            new(1, new PacketRingCounters(500, 450, 0, 0, 0, 0, 0), 440, 0, new long[(int)DropReason.Count], 6, 1 << 20),
        };

        return new StatusReport("eth0", workers, [web, mark], [vrrp], health, vs);
    }
}
