using Fulcrum.Balancing;
using Microsoft.Extensions.Time.Testing;
using static Fulcrum.Tests.Balancing.Lab;

namespace Fulcrum.Tests.Balancing;

public class RateTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void UpdateRates_TenConnectionsInTwoSeconds_KernelEstimate()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        for (ushort p = 1; p <= 10; p++)
            w.Open(t, p); // 60 bytes each

        _time.Advance(TimeSpan.FromSeconds(2));
        t.UpdateRates();

        // cps: (10 << 9) >> 2 = 1280, read as (1280 + 0x1FF) >> 10 = 1; inbps: (600 << 4) >> 2 = 2400 -> (2400 + 0xF) >> 5 = 75.
        Assert.Equal(new IpvsRates(1, 1, 0, 75, 0), t.GetService(Tcp80)!.Rates);
        Assert.Equal(new IpvsRates(1, 1, 0, 75, 0), t.Dest(Tcp80, Rs1).Rates);

        // A quiet period decays by a quarter: 1280 -> 960 (still 1), 2400 -> 1800 -> 56.
        _time.Advance(TimeSpan.FromSeconds(2));
        t.UpdateRates();
        Assert.Equal(new IpvsRates(1, 1, 0, 56, 0), t.GetService(Tcp80)!.Rates);
    }

    [Fact]
    public void UpdateRates_LatePeriod_ScaledToElapsedTime()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        for (ushort p = 1; p <= 40; p++)
            w.Open(t, p);

        _time.Advance(TimeSpan.FromSeconds(4)); // 10 per second, measured over 4 s
        t.UpdateRates();

        // rate = 10 * 1024 = 10240, avg 2560 -> (2560 + 511) >> 10 = 2 cps; 40 * 60 B / 4 s = 600 B/s -> 19200 >> 2 = 4800 -> 150.
        Assert.Equal(new IpvsRates(2, 2, 0, 150, 0), t.GetService(Tcp80)!.Rates);
    }

    [Fact]
    public void Zero_RatesRestart()
    {
        var t = Table(_time, "rr", Tcp80, dests: [(Rs1, 1)]);
        var w = t.CreateWorker(0);
        for (ushort p = 1; p <= 10; p++)
            w.Open(t, p);
        _time.Advance(TimeSpan.FromSeconds(2));
        t.UpdateRates();

        t.Zero(Tcp80);

        Assert.Equal(default, t.GetService(Tcp80)!.Rates);
        _time.Advance(TimeSpan.FromSeconds(2));
        t.UpdateRates();
        Assert.Equal(default, t.GetService(Tcp80)!.Rates);
    }
}
