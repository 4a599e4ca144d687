using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Vrrp;

/// <summary>
/// The client probe: from inside a namespace, a new TCP connection to ADDRESS:80 every 20 ms with
/// one HTTP/1.0 GET, recording when each attempt started and whether it was served. Stops (and its thread
/// ends) on Dispose.
/// </summary>
/// <remarks>
/// A lost packet is not told by a short timeout: on a loaded 2-core CI machine the probing thread itself was
/// seen late by 300-600 ms (a 200 ms connect timeout that fired after 832 ms, the director counting no drop).
/// The timeout is therefore generous, and loss is read where it is certain: the client kernel retransmits a
/// lost SYN, SYN-ACK or segment after its 1 s initial RTO (RFC 6298), counted in TcpExt TCPSynRetrans and
/// Tcp RetransSegs of the client's namespace (<see cref="Retransmissions"/>); a refused or reset connection
/// fails the probe at once.
/// </remarks>
internal sealed class ProbeLoop : IDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    private readonly List<(TimeSpan At, string? Failure)> _results = [];
    private readonly Lock _gate = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Thread _thread;
    private volatile bool _stop;

    public ProbeLoop(string networkNamespace, IPAddress address)
    {
        _thread = NetworkNamespace.StartIn(networkNamespace, () =>
        {
            var request = Encoding.ASCII.GetBytes("GET / HTTP/1.0\r\n\r\n");
            var buffer = new byte[4096];
            while (!_stop)
            {
                var at = _clock.Elapsed;
                string? failure = TryOnce(address, request, buffer);
                lock (_gate)
                    _results.Add((at, failure));
                var next = at + Period - _clock.Elapsed;
                if (next > TimeSpan.Zero)
                    Thread.Sleep(next);
            }
        });
    }

    /// <summary>Time since the probe started (the clock of every result).</summary>
    public TimeSpan Now => _clock.Elapsed;

    /// <summary>Probes started in [from, to) and how many of them failed.</summary>
    public (int Total, int Failed) Count(TimeSpan from, TimeSpan to)
    {
        int total = 0, failed = 0;
        lock (_gate)
        {
            foreach (var (at, failure) in _results)
            {
                if (at < from || at >= to)
                    continue;
                total++;
                if (failure is not null)
                    failed++;
            }
        }

        return (total, failed);
    }

    /// <summary>The failed probes in [from, to): when each started (ms after <paramref name="from"/>) and why.</summary>
    public string Failures(TimeSpan from, TimeSpan to)
    {
        var lines = new List<string>();
        lock (_gate)
        {
            foreach (var (at, failure) in _results)
            {
                if (at >= from && at < to && failure is not null)
                    lines.Add($"+{(at - from).TotalMilliseconds:F0} ms: {failure}");
            }
        }

        return string.Join("; ", lines);
    }

    /// <summary>
    /// The client namespace's TCP retransmissions so far (SYNs, and segments of any kind): a packet the path
    /// lost on the way to or from the real server shows here, whatever the probing thread's timing.
    /// </summary>
    /// <param name="netstatAndSnmp">/proc/net/netstat and /proc/net/snmp as read inside the client's namespace.</param>
    public static long Retransmissions(string netstatAndSnmp) =>
        Counter(netstatAndSnmp, "TcpExt:", "TCPSynRetrans") + Counter(netstatAndSnmp, "Tcp:", "RetransSegs");

    /// <summary>A value from /proc/net/netstat or snmp: a header line of names and a value line, both starting with the prefix.</summary>
    private static long Counter(string text, string prefix, string name)
    {
        var lines = text.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).ToArray();
        for (int i = 0; i + 1 < lines.Length; i += 2)
        {
            int column = Array.IndexOf(lines[i].Split(' '), name);
            if (column > 0)
                return long.Parse(lines[i + 1].Split(' ')[column], System.Globalization.CultureInfo.InvariantCulture);
        }

        throw new InvalidOperationException($"no {prefix} {name} in the client's counters");
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join(TimeSpan.FromSeconds(2));
    }

    /// <summary>One probe; null when served, else what went wrong (which step, the socket error, how long it took).</summary>
    private static string? TryOnce(IPAddress address, byte[] request, byte[] buffer)
    {
        var started = Stopwatch.GetTimestamp();
        string step = "connect";
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
            {
                ReceiveTimeout = (int)Timeout.TotalMilliseconds,
                SendTimeout = (int)Timeout.TotalMilliseconds,
            };
            using var cts = new CancellationTokenSource(Timeout);
            s.ConnectAsync(new IPEndPoint(address, 80), cts.Token).AsTask().GetAwaiter().GetResult();
            step = "send";
            s.Send(request);
            step = "receive";
            int total = 0, n;
            while ((n = s.Receive(buffer, total, buffer.Length - total, SocketFlags.None)) > 0)
            {
                total += n;
                if (total == buffer.Length)
                    break;
            }

            bool ok = total > 12 && Encoding.ASCII.GetString(buffer, 0, 12).StartsWith("HTTP/1.", StringComparison.Ordinal)
                && Encoding.ASCII.GetString(buffer, 9, 3) == "200";
            return ok ? null : $"bad response ({total} bytes) after {Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms";
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            string why = e is SocketException se ? se.SocketErrorCode.ToString() : "timeout";
            return $"{step} {why} after {Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms";
        }
    }
}
