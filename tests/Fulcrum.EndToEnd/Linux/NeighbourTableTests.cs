using System.Collections.Concurrent;
using System.Diagnostics;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Linux;

public class NeighbourTableTests
{
    [Fact]
    public void Resolve_PeerAddress_DumpShowsPeerMacAndMonitorSeesIt()
    {
        using var ns = new TwoNamespaces();
        using var table = NetworkNamespace.RunIn(ns.A, () => new NeighbourTable());
        int ifIndex = NetworkNamespace.RunIn(ns.A, () => NetInterface.GetIndex(TwoNamespaces.Interface));
        ulong macB = NetworkNamespace.RunIn(ns.B, () => NetInterface.GetMac(TwoNamespaces.Interface));
        var changes = new BlockingCollection<(NeighbourEntry Entry, bool Deleted)>();
        using var cts = new CancellationTokenSource();
        Exception? monitorFailure = null;
        var monitor = new Thread(() =>
        {
            try
            {
                table.RunMonitor((e, deleted) => changes.Add((e, deleted)), cts.Token);
            }
            catch (Exception ex)
            {
                monitorFailure = ex;
            }
        });
        monitor.Start();
        try
        {
            Assert.DoesNotContain(table.Dump(ifIndex), e => e.Address.Equals(TwoNamespaces.AddressB));

            table.Resolve(ifIndex, TwoNamespaces.AddressB);

            NeighbourEntry? resolved = null;
            var sw = Stopwatch.StartNew();
            while (resolved is null && sw.Elapsed < TimeSpan.FromSeconds(5))
            {
                foreach (NeighbourEntry e in table.Dump(ifIndex))
                {
                    if (e.Address.Equals(TwoNamespaces.AddressB) && e.HasUsableMac)
                    {
                        resolved = e;
                    }
                }

                Thread.Sleep(20);
            }

            Assert.NotNull(resolved);
            Assert.Equal(macB, resolved.Value.Mac);
            Assert.Equal(ifIndex, resolved.Value.IfIndex);
            Assert.Equal(NeighbourState.Reachable, resolved.Value.State);

            Assert.True(WaitFor(changes, c => !c.Deleted && c.Entry.Address.Equals(TwoNamespaces.AddressB) && c.Entry.Mac == macB), "the monitor never reported B's MAC");

            TwoNamespaces.Run("ip", "-n", ns.A, "neigh", "del", TwoNamespaces.AddressB.ToString(), "dev", TwoNamespaces.Interface);
            Assert.True(WaitFor(changes, c => c.Deleted && c.Entry.Address.Equals(TwoNamespaces.AddressB)), "the monitor never reported the deletion");
        }
        finally
        {
            var sw = Stopwatch.StartNew();
            cts.Cancel();
            Assert.True(monitor.Join(TimeSpan.FromSeconds(2)), "RunMonitor did not stop on cancellation");
            Assert.True(sw.ElapsedMilliseconds < 1000, $"RunMonitor took {sw.ElapsedMilliseconds} ms to stop");
        }

        Assert.Null(monitorFailure);
    }

    [Fact]
    public void Resolve_AbsentHost_EntryHasNoUsableMac()
    {
        using var ns = new TwoNamespaces();
        using var table = NetworkNamespace.RunIn(ns.A, () => new NeighbourTable());
        int ifIndex = NetworkNamespace.RunIn(ns.A, () => NetInterface.GetIndex(TwoNamespaces.Interface));
        var absent = System.Net.IPAddress.Parse("198.51.100.77");

        table.Resolve(ifIndex, absent);
        Thread.Sleep(100);

        NeighbourEntry entry = Assert.Single(table.Dump(ifIndex), e => e.Address.Equals(absent));
        Assert.False(entry.HasUsableMac);
        Assert.True(entry.State is NeighbourState.Incomplete or NeighbourState.Failed, $"state {entry.State}");
    }

    [Fact]
    public void Resolve_UnknownInterface_ThrowsLinuxException()
    {
        using var ns = new TwoNamespaces();
        using var table = NetworkNamespace.RunIn(ns.A, () => new NeighbourTable());

        var ex = Assert.Throws<LinuxException>(() => table.Resolve(9999, TwoNamespaces.AddressB));
        Assert.Equal(19, ex.Errno); // ENODEV
    }

    private static bool WaitFor(BlockingCollection<(NeighbourEntry Entry, bool Deleted)> changes, Func<(NeighbourEntry Entry, bool Deleted), bool> match)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(5))
        {
            if (changes.TryTake(out var change, 100) && match(change))
            {
                return true;
            }
        }

        return false;
    }
}
