using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Vrrp;

/// <summary>
/// The client probe: from inside a namespace, a new TCP connection to ADDRESS:80 every 20 ms with
/// one HTTP/1.0 GET (200 ms timeout), recording when each attempt started and whether it was served. Stops
/// (and its thread ends) on Dispose.
/// </summary>
internal sealed class ProbeLoop : IDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(200);

    private readonly List<(TimeSpan At, bool Ok)> _results = [];
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
                bool ok = TryOnce(address, request, buffer);
                lock (_gate)
                    _results.Add((at, ok));
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
            foreach (var (at, ok) in _results)
            {
                if (at < from || at >= to)
                    continue;
                total++;
                if (!ok)
                    failed++;
            }
        }

        return (total, failed);
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join(TimeSpan.FromSeconds(2));
    }

    private static bool TryOnce(IPAddress address, byte[] request, byte[] buffer)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
            {
                ReceiveTimeout = (int)Timeout.TotalMilliseconds,
                SendTimeout = (int)Timeout.TotalMilliseconds,
            };
            using var cts = new CancellationTokenSource(Timeout);
            s.ConnectAsync(new IPEndPoint(address, 80), cts.Token).AsTask().GetAwaiter().GetResult();
            s.Send(request);
            int total = 0, n;
            while ((n = s.Receive(buffer, total, buffer.Length - total, SocketFlags.None)) > 0)
            {
                total += n;
                if (total == buffer.Length)
                    break;
            }

            return total > 12 && Encoding.ASCII.GetString(buffer, 0, 12).StartsWith("HTTP/1.", StringComparison.Ordinal)
                && Encoding.ASCII.GetString(buffer, 9, 3) == "200";
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}
