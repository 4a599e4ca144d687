using System.Diagnostics;

namespace Fulcrum.Lab;

/// <summary>One probe: when it started and ended (Stopwatch ticks) and who answered (null: not served).</summary>
public readonly record struct LabProbe(long Start, long End, string? RealServer)
{
    public bool Served => RealServer is not null;
}

/// <summary>
/// A client that opens a new connection to VIP:80 every <c>interval</c> and sends one GET, without waiting
/// for earlier probes (so a lost SYN does not delay the next one), as bench/lib/probe.pl does for
/// bench/vrrp-failover.sh. The outage of an event is the longest gap between the starts of served probes
/// around it: undisturbed, that is the interval.
/// </summary>
public sealed class LabProbeLoop : IAsyncDisposable
{
    private readonly LabClient _client;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _timeout;
    private readonly List<LabProbe> _probes = [];
    private readonly List<Task> _inFlight = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private LabProbeLoop(LabClient client, TimeSpan interval, TimeSpan timeout)
    {
        _client = client;
        _interval = interval;
        _timeout = timeout;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Starts probing: a new connection every <paramref name="interval"/>, served if answered within <paramref name="timeout"/>.</summary>
    public static LabProbeLoop Start(LabClient client, TimeSpan interval, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(client);
        return new LabProbeLoop(client, interval, timeout);
    }

    public TimeSpan Interval => _interval;

    /// <summary>The probes finished so far, in order of their end.</summary>
    public IReadOnlyList<LabProbe> Probes
    {
        get
        {
            lock (_probes)
            {
                return [.. _probes];
            }
        }
    }

    /// <summary>
    /// The longest gap between the starts of consecutive served probes from <paramref name="from"/> (Stopwatch
    /// ticks) on, or null if no probe was served after <paramref name="from"/>, i.e. the outage never ended.
    /// </summary>
    public static TimeSpan? LongestGap(IReadOnlyList<LabProbe> probes, long from)
    {
        ArgumentNullException.ThrowIfNull(probes);
        var starts = new List<long>();
        foreach (var p in probes)
        {
            if (p.Served && p.Start >= from)
            {
                starts.Add(p.Start);
            }
        }

        if (starts.Count == 0)
        {
            return null;
        }

        starts.Sort();
        long gap = 0;
        for (int i = 1; i < starts.Count; i++)
        {
            gap = Math.Max(gap, starts[i] - starts[i - 1]);
        }

        return TimeSpan.FromSeconds((double)gap / Stopwatch.Frequency);
    }

    /// <summary>Counts of served and unserved probes that started at or after <paramref name="from"/>.</summary>
    public static (int Served, int Failed) Count(IReadOnlyList<LabProbe> probes, long from)
    {
        ArgumentNullException.ThrowIfNull(probes);
        int served = 0, failed = 0;
        foreach (var p in probes)
        {
            if (p.Start >= from)
            {
                if (p.Served)
                {
                    served++;
                }
                else
                {
                    failed++;
                }
            }
        }

        return (served, failed);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        Task[] pending;
        lock (_inFlight)
        {
            pending = [.. _inFlight];
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(_interval);
        do
        {
            var probe = ProbeAsync();
            lock (_inFlight)
            {
                _inFlight.RemoveAll(t => t.IsCompleted);
                _inFlight.Add(probe);
            }
        }
        while (await Tick(timer).ConfigureAwait(false));
    }

    private async Task<bool> Tick(PeriodicTimer timer)
    {
        try
        {
            return await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task ProbeAsync()
    {
        long start = Stopwatch.GetTimestamp();
        var name = await _client.GetAsync(_timeout).ConfigureAwait(false);
        lock (_probes)
        {
            _probes.Add(new LabProbe(start, Stopwatch.GetTimestamp(), name));
        }
    }
}
