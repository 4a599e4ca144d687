using System.Net;
using Fulcrum.Balancing;
using Microsoft.Extensions.Time.Testing;
using static Fulcrum.Tests.Balancing.Lab;

namespace Fulcrum.Tests.Balancing;

public class ConcurrencyTests
{
    [Fact]
    public void Workers_WhileControlPlaneChurns_CountersMatchTables()
    {
        var time = new FakeTimeProvider();
        var t = new IpvsTable(time, 2, 4096);
        t.AddService(new ServiceSpec(Tcp80, "wrr"));
        IPAddress[] servers = [Rs1, Rs2, Rs3];
        foreach (var a in servers)
            t.AddDest(Tcp80, new DestSpec(a, 80, Weight: 2));

        using var stop = new CancellationTokenSource();
        var seen = new HashSet<RealServer>[2];
        var errors = new List<Exception>();
        long now = t.NowMs;

        var workers = new Thread[2];
        for (int wi = 0; wi < 2; wi++)
        {
            int index = wi;
            seen[index] = [];
            workers[index] = new Thread(() =>
            {
                try
                {
                    var w = t.CreateWorker(index);
                    var client = IPAddress.Parse(index == 0 ? "203.0.113.20" : "203.0.113.21");
                    for (int round = 0; round < 200; round++)
                    {
                        for (ushort p = 1; p <= 20; p++)
                        {
                            var syn = Tcp((ushort)(round * 20 + p), Syn, client: client);
                            if (w.Process(ref syn, now, out var dest, out _) == Fulcrum.Balancing.BalanceVerdict.Forward)
                                seen[index].Add(dest!);
                            var fin = Tcp((ushort)(round * 20 + p), (byte)(round % 3 == 0 ? Rst : Ack), client: client);
                            w.Process(ref fin, now, out _, out _);
                        }
                        w.Expire(now + (round % 5 == 0 ? 61_000 : 0), 64);
                    }
                }
                catch (Exception e)
                {
                    lock (errors)
                        errors.Add(e);
                }
            });
            workers[index].Start();
        }

        var rnd = new Random(7);
        while (workers.Any(w => w.IsAlive))
        {
            var a = servers[rnd.Next(servers.Length)];
            switch (rnd.Next(4))
            {
                case 0: t.DeleteDest(Tcp80, a, 80); break;
                case 1: t.AddDest(Tcp80, new DestSpec(a, 80, Weight: rnd.Next(0, 5))); break;
                case 2: t.EditDest(Tcp80, new DestSpec(a, 80, Weight: rnd.Next(0, 5), UpperThreshold: (uint)rnd.Next(0, 50))); break;
                default: t.EditService(new ServiceSpec(Tcp80, rnd.Next(2) == 0 ? "wrr" : "wlc")); break;
            }
            _ = t.GetServices();
            _ = t.GetConnections();
        }
        foreach (var w in workers)
            w.Join();

        Assert.Empty(errors);
        var all = seen[0].Union(seen[1]).ToList();
        int counted = all.Sum(d => d.ActiveConns + d.InactiveConns);
        Assert.Equal(t.CreateWorker(0).Count + t.CreateWorker(1).Count, counted);
        Assert.All(all, d => Assert.True(d.ActiveConns >= 0 && d.InactiveConns >= 0));
    }
}
