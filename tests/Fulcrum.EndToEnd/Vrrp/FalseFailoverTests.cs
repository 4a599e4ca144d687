using System.Diagnostics;
using Fulcrum.Vrrp;
using Xunit.Abstractions;

namespace Fulcrum.EndToEnd.Vrrp;

/// <summary>
/// The short form of bench/vrrp-false-failover.sh: a Fulcrum MASTER and BACKUP at VRRPv3 advert 0.05 s
/// (Master_Down 170 ms) with every core busy for 10 s; neither may change state.
/// </summary>
public sealed class FalseFailoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Advert50ms_CoresBusy10Seconds_NoStateChange()
    {
        using var net = new VrrpTopology(output);
        var b = await net.StartFulcrumAsync("b", VrrpTopology.Config(3, 100, "0.05"));
        var a = await net.StartFulcrumAsync("a", VrrpTopology.Config(3, 150, "0.05"));
        VrrpTopology.WaitFor(() => net.HasVip("a") && !net.HasVip("b") && VrrpTopology.First(b)?.State == VrrpInstanceState.Backup, TimeSpan.FromSeconds(10), "a MASTER, b BACKUP");
        Thread.Sleep(500);

        int changes = 0;
        b.InstanceStateChanged += _ => Interlocked.Increment(ref changes);
        a.InstanceStateChanged += _ => Interlocked.Increment(ref changes);
        var busy = new List<Process>();
        try
        {
            for (int i = 0; i < Environment.ProcessorCount; i++)
            {
                var psi = new ProcessStartInfo("perl") { UseShellExecute = false };
                psi.ArgumentList.Add("-e");
                psi.ArgumentList.Add("1 while 1");
                busy.Add(Process.Start(psi)!);
            }

            VrrpTopology.Holds(
                () => Volatile.Read(ref changes) == 0 && net.HasVip("a") && !net.HasVip("b"),
                TimeSpan.FromSeconds(10),
                "no state change with the cores busy");
        }
        finally
        {
            foreach (var p in busy)
            {
                p.Kill();
                p.WaitForExit();
                p.Dispose();
            }
        }

        Assert.Equal(0, changes);
    }
}
