using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Linux;

namespace Fulcrum.Lab;

/// <summary>
/// HTTP traffic from the lab's client host to VIP:80, in this process: fresh-connection GETs, a probe
/// loop (<see cref="LabProbeLoop"/>) and long-lived keep-alive connections (<see cref="LabKeepAliveClients"/>).
/// Every answer (the real server's name, as the lab's nginx answers) is counted per real server.
/// </summary>
/// <remarks>
/// A socket belongs to the network namespace of the thread that creates it (setns(2) is per thread), so
/// one thread that entered the client's namespace creates every socket; using them afterwards (connect,
/// send, async receive on thread-pool threads) needs no namespace. A process per request (curl) would
/// cost milliseconds each and could not hold connections open across director changes.
/// </remarks>
public sealed class LabClient : IDisposable
{
    private static readonly byte[] Request = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: vip\r\n\r\n");
    private readonly BlockingCollection<TaskCompletionSource<Socket>> _requests = [];
    private readonly ConcurrentDictionary<string, long> _answers = new(StringComparer.Ordinal);
    private readonly Thread _factory;

    public LabClient(LabCluster lab)
    {
        ArgumentNullException.ThrowIfNull(lab);
        _factory = NetworkNamespace.StartIn(lab.NamespaceOf("client"), CreateSockets);
    }

    /// <summary>The service every request goes to.</summary>
    public static IPEndPoint Service { get; } = new(LabAddresses.Vip, LabCluster.HttpPort);

    /// <summary>Answers counted per real server name, over every request this client made.</summary>
    public IReadOnlyDictionary<string, long> Answers => new Dictionary<string, long>(_answers, StringComparer.Ordinal);

    /// <summary>A new TCP socket in the client's namespace (not connected).</summary>
    public Socket NewSocket()
    {
        var tcs = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests.Add(tcs);
        return tcs.Task.GetAwaiter().GetResult();
    }

    /// <summary>One GET on a fresh connection; the answering real server's name, or null on any failure.</summary>
    public async Task<string?> GetAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        using var socket = NewSocket();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(Service, cts.Token).ConfigureAwait(false);
            return await ExchangeAsync(socket, new byte[1024], cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
        catch (SocketException)
        {
            return null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// Sends one GET on an open connection and reads the whole response; returns the body (the real
    /// server's name) and counts it. Throws <see cref="IOException"/> if the peer closes or answers badly.
    /// </summary>
    public async Task<string> ExchangeAsync(Socket socket, byte[] buffer, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(buffer);
        await socket.SendAsync(Request, SocketFlags.None, ct).ConfigureAwait(false);
        int total = 0;
        while (true)
        {
            if (total == buffer.Length)
            {
                throw new IOException("response larger than the buffer");
            }

            int n = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("connection closed by the peer");
            }

            total += n;
            if (TryParseResponse(buffer.AsSpan(0, total), out var body, out var error))
            {
                _answers.AddOrUpdate(body, 1, (_, c) => c + 1);
                return body;
            }

            if (error is not null)
            {
                throw new IOException(error);
            }
        }
    }

    public void Dispose()
    {
        _requests.CompleteAdding();
        _factory.Join();
        _requests.Dispose();
    }

    /// <summary>
    /// Parses an HTTP/1.x response with a Content-Length once it is complete: true with the trimmed body
    /// of a 200; false with a null error while more bytes are needed; false with an error otherwise.
    /// </summary>
    internal static bool TryParseResponse(ReadOnlySpan<byte> data, out string body, out string? error)
    {
        body = "";
        error = null;
        var text = Encoding.ASCII.GetString(data);
        int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            return false;
        }

        var lines = text[..end].Split("\r\n");
        if (!lines[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || lines[0].Length < 12 || lines[0][9..12] != "200")
        {
            error = "unexpected status: " + lines[0];
            return false;
        }

        int length = -1;
        foreach (var line in lines)
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = int.Parse(line.AsSpan("Content-Length:".Length).Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
            }
        }

        if (length < 0)
        {
            error = "no Content-Length";
            return false;
        }

        if (text.Length < end + 4 + length)
        {
            return false;
        }

        body = text.Substring(end + 4, length).Trim();
        return true;
    }

    private void CreateSockets()
    {
        foreach (var tcs in _requests.GetConsumingEnumerable())
        {
            try
            {
                // Linger 0: a closed probe resets instead of leaving the client in TIME_WAIT for a minute
                // per probe (50 a second); the real servers then drop their side at once, too.
                tcs.SetResult(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
                {
                    NoDelay = true,
                    LingerState = new LingerOption(true, 0),
                });
            }
            catch (SocketException e)
            {
                tcs.SetException(e);
            }
        }
    }

    /// <summary>Stopwatch ticks as milliseconds (what the probe and keep-alive records hold).</summary>
    internal static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
