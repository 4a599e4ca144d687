namespace Fulcrum.EndToEnd.Infrastructure;

/// <summary>Polling for a condition that a daemon, a kernel or a peer brings about in its own time.</summary>
public static class Wait
{
    /// <summary>Polls <paramref name="condition"/> every 100 ms; fails the test naming <paramref name="what"/> after <paramref name="seconds"/>.</summary>
    public static void For(Func<bool> condition, string what, int seconds = 10) => For(condition, what, seconds, null);

    /// <summary>As <see cref="For(Func{bool}, string, int)"/>; on a timeout the message ends with <paramref name="context"/>() (e.g. a daemon's log).</summary>
    public static void For(Func<bool> condition, string what, int seconds, Func<string>? context)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline)
                Assert.Fail($"timed out after {seconds} s waiting for {what}" + (context is null ? "" : "\n" + context()));
            Thread.Sleep(100);
        }
    }

    /// <summary>
    /// Waits until <paramref name="host"/> has resolved every IPv6 real server of the lab by NDP. The director
    /// never sends to a guessed MAC (a frame for an unresolved real server is dropped, NoNeighbour), and right
    /// after a lab comes up its link-local addresses are still in DAD, so the first requests can be lost.
    /// </summary>
    public static void ForIpv6Neighbours(Fulcrum.Lab.LabCluster lab, string host)
    {
        foreach (var rs in Fulcrum.Lab.LabAddresses.RealServersV6)
        {
            For(() => lab.Exec(host, "ip", "-6", "neigh", "show", rs.ToString()).StdOut.Contains("lladdr", StringComparison.Ordinal),
                $"{host} to resolve {rs}'s MAC");
        }
    }
}
