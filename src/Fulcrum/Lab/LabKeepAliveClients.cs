using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Fulcrum.Lab;

/// <summary>
/// One long-lived keep-alive HTTP connection to VIP:80 that sends a GET every interval. It is lost at the
/// first failure (reset, close, no answer within the timeout) or if another real server answers: across a
/// director change either means the connection did not survive.
/// </summary>
public sealed class LabKeepAliveConnection
{
    private readonly object _gate = new();
    private int _answers;
    private string? _realServer;
    private string? _failure;

    internal LabKeepAliveConnection(int clientPort) => ClientPort = clientPort;

    /// <summary>The connection's source port on the client (its flow in the directors' tables).</summary>
    public int ClientPort { get; }

    /// <summary>The real server that answered first, or null before any answer.</summary>
    public string? RealServer
    {
        get
        {
            lock (_gate)
            {
                return _realServer;
            }
        }
    }

    public int Answers
    {
        get
        {
            lock (_gate)
            {
                return _answers;
            }
        }
    }

    /// <summary>Why the connection was lost, or null while it works.</summary>
    public string? Failure
    {
        get
        {
            lock (_gate)
            {
                return _failure;
            }
        }
    }

    public bool Lost => Failure is not null;

    internal void Answered(string realServer)
    {
        lock (_gate)
        {
            _realServer ??= realServer;
            if (_realServer != realServer)
            {
                _failure ??= $"answered by {realServer} after {_realServer}";
                return;
            }

            _answers++;
        }
    }

    internal void Fail(string why)
    {
        lock (_gate)
        {
            _failure ??= why;
        }
    }
}

/// <summary>
/// N long-lived keep-alive connections from the lab's client, each sending a GET every interval (with a
/// random phase, so they do not all send at once) until disposed.
/// </summary>
public sealed class LabKeepAliveClients : IAsyncDisposable
{
    private readonly Socket[] _sockets;
    private readonly Task[] _loops;
    private readonly CancellationTokenSource _stop = new();

    private LabKeepAliveClients(LabClient client, Socket[] sockets, TimeSpan interval, TimeSpan timeout)
    {
        _sockets = sockets;
        var connections = new LabKeepAliveConnection[sockets.Length];
        _loops = new Task[sockets.Length];
        for (int i = 0; i < sockets.Length; i++)
        {
            connections[i] = new LabKeepAliveConnection(((IPEndPoint)sockets[i].LocalEndPoint!).Port);
            var socket = sockets[i];
            var connection = connections[i];
            _loops[i] = Task.Run(() => RunAsync(client, socket, connection, interval, timeout, _stop.Token));
        }

        Connections = connections;
    }

    public IReadOnlyList<LabKeepAliveConnection> Connections { get; }

    /// <summary>Opens <paramref name="count"/> connections and starts their request loops.</summary>
    public static async Task<LabKeepAliveClients> OpenAsync(LabClient client, int count, TimeSpan interval, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(client);
        var sockets = new Socket[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                sockets[i] = client.NewSocket();
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                cts.CancelAfter(timeout);
                await sockets[i].ConnectAsync(LabClient.Service, cts.Token).ConfigureAwait(false);
            }
        }
        catch
        {
            foreach (var s in sockets)
            {
                s?.Dispose();
            }

            throw;
        }

        return new LabKeepAliveClients(client, sockets, interval, timeout);
    }

    /// <summary>Each connection's answer count now, to compare with later (<see cref="KeptSince"/>).</summary>
    public int[] Mark()
    {
        var marks = new int[Connections.Count];
        for (int i = 0; i < marks.Length; i++)
        {
            marks[i] = Connections[i].Answers;
        }

        return marks;
    }

    /// <summary>
    /// Waits until every connection that is not lost has at least <paramref name="answers"/> more answers
    /// than at <paramref name="mark"/>, or <paramref name="timeout"/> passes; returns how many did (kept)
    /// and how many did not (lost).
    /// </summary>
    public async Task<(int Kept, int Lost)> KeptSince(int[] mark, int answers, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(mark);
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            int kept = 0, pending = 0;
            for (int i = 0; i < mark.Length; i++)
            {
                var c = Connections[i];
                if (!c.Lost && c.Answers - mark[i] >= answers)
                {
                    kept++;
                }
                else if (!c.Lost)
                {
                    pending++;
                }
            }

            if (pending == 0 || Stopwatch.GetTimestamp() > deadline)
            {
                return (kept, mark.Length - kept);
            }

            await Task.Delay(20, ct).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ConfigureAwait(false);
        foreach (var s in _sockets)
        {
            s.Dispose();
        }

        _stop.Dispose();
    }

    private static async Task RunAsync(LabClient client, Socket socket, LabKeepAliveConnection connection, TimeSpan interval, TimeSpan timeout, CancellationToken stop)
    {
        var buffer = new byte[1024];
        try
        {
            await Task.Delay(Random.Shared.Next((int)interval.TotalMilliseconds), stop).ConfigureAwait(false);
            while (!stop.IsCancellationRequested && !connection.Lost)
            {
                using (var cts = CancellationTokenSource.CreateLinkedTokenSource(stop))
                {
                    cts.CancelAfter(timeout);
                    try
                    {
                        connection.Answered(await client.ExchangeAsync(socket, buffer, cts.Token).ConfigureAwait(false));
                    }
                    catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                    {
                        connection.Fail($"no answer within {timeout.TotalSeconds:0.#} s");
                    }
                    catch (Exception e) when (e is SocketException or IOException)
                    {
                        connection.Fail(e.Message);
                    }
                }

                await Task.Delay(interval, stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Disposed: the loop ends here.
        }
    }
}
