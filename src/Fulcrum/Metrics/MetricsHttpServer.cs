using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Metrics;

/// <summary>
/// Serves GET /metrics over plain HTTP/1.1, one request per connection (Connection: close), the
/// way Prometheus scrapes. A few dozen lines of sockets rather than HttpListener or Kestrel: a
/// scrape endpoint needs no routing, TLS or keep-alive, and the daemon stays small under Native AOT.
/// Failing to bind is logged and leaves the director running: metrics must never stop a load balancer.
/// </summary>
public sealed partial class MetricsHttpServer : BackgroundService
{
    private const int MaxRequestBytes = 8192;
    private const int MaxConcurrentClients = 8;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private readonly IPEndPoint _endpoint;
    private readonly IReadOnlyList<IMetricsSource> _sources;
    private readonly ILogger<MetricsHttpServer> _logger;
    private readonly SemaphoreSlim _clients = new(MaxConcurrentClients);
    private Socket? _listener;

    public MetricsHttpServer(IPEndPoint endpoint, IEnumerable<IMetricsSource> sources, ILogger<MetricsHttpServer> logger)
    {
        _endpoint = endpoint;
        _sources = [.. sources];
        _logger = logger;
    }

    /// <summary>Where it listens once started (port 0 resolved), or null when binding failed.</summary>
    public IPEndPoint? LocalEndPoint => _listener?.LocalEndPoint as IPEndPoint;

    /// <summary>One page: every source in order; a source that throws is rolled back and logged.</summary>
    public string Render()
    {
        var writer = new MetricsWriter();
        foreach (var source in _sources)
        {
            var mark = writer.Mark();
            try
            {
                source.Write(writer);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                writer.Rollback(mark);
                LogSourceFailed(e, source.GetType().Name);
            }
        }

        return writer.ToString();
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Bound before the host reports started, so a scrape right after start finds the port.
        var listener = new Socket(_endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(_endpoint);
            listener.Listen(16);
            _listener = listener;
            LogListening(LocalEndPoint!.ToString());
        }
        catch (SocketException e)
        {
            listener.Dispose();
            LogBindFailed(_endpoint.ToString(), e.Message);
        }

        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_listener is not { } listener)
            return;
        while (!stoppingToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                await _clients.WaitAsync(stoppingToken).ConfigureAwait(false);
                client = await listener.AcceptAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            _ = ServeAsync(client, stoppingToken);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        _listener?.Dispose();
    }

    public override void Dispose()
    {
        _listener?.Dispose();
        _clients.Dispose();
        base.Dispose();
    }

    private async Task ServeAsync(Socket client, CancellationToken stoppingToken)
    {
        try
        {
            using (client)
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
            {
                timeout.CancelAfter(RequestTimeout);
                var head = await ReadHeadAsync(client, timeout.Token).ConfigureAwait(false);
                var (status, body) = Answer(head);
                bool headOnly = head.StartsWith("HEAD ", StringComparison.Ordinal);
                var payload = Encoding.UTF8.GetBytes(body);
                var header = $"HTTP/1.1 {status}\r\nContent-Type: {(status.StartsWith("200", StringComparison.Ordinal) ? MetricsWriter.ContentType : "text/plain; charset=utf-8")}\r\n" +
                             $"Content-Length: {payload.Length}\r\nConnection: close\r\n\r\n";
                await client.SendAsync(Encoding.ASCII.GetBytes(header), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (!headOnly)
                    await client.SendAsync(payload, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                client.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or InvalidDataException)
        {
            LogClientFailed(e.Message);
        }
        finally
        {
            _clients.Release();
        }
    }

    /// <summary>The response to a request head: status line text and body.</summary>
    internal (string Status, string Body) Answer(string head)
    {
        int end = head.IndexOf("\r\n", StringComparison.Ordinal);
        var parts = (end < 0 ? head : head[..end]).Split(' ');
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            return ("400 Bad Request", "bad request\n");
        if (parts[0] is not ("GET" or "HEAD"))
            return ("405 Method Not Allowed", "only GET and HEAD\n");
        var path = parts[1];
        int query = path.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
            path = path[..query];
        return path switch
        {
            "/metrics" => ("200 OK", Render()),
            "/" => ("404 Not Found", "Fulcrum director: metrics are at /metrics\n"),
            _ => ("404 Not Found", "not found; metrics are at /metrics\n"),
        };
    }

    private static async Task<string> ReadHeadAsync(Socket client, CancellationToken ct)
    {
        var buffer = new byte[MaxRequestBytes];
        int length = 0;
        while (true)
        {
            int n = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0)
                throw new InvalidDataException("client closed before the end of the request head");
            int from = Math.Max(0, length - 3);
            length += n;
            if (buffer.AsSpan(from, length - from).IndexOf("\r\n\r\n"u8) >= 0)
                return Encoding.ASCII.GetString(buffer, 0, length);
            if (length == buffer.Length)
                throw new InvalidDataException("request head over 8 KiB");
        }
    }

    [LoggerMessage(EventId = 800, Level = LogLevel.Information, Message = "metrics on http://{Endpoint}/metrics")]
    private partial void LogListening(string endpoint);

    [LoggerMessage(EventId = 801, Level = LogLevel.Error, Message = "metrics endpoint {Endpoint} not available: {Reason}; the director runs without it")]
    private partial void LogBindFailed(string endpoint, string reason);

    [LoggerMessage(EventId = 802, Level = LogLevel.Error, Message = "metrics source {Source} failed; left out of this scrape")]
    private partial void LogSourceFailed(Exception exception, string source);

    [LoggerMessage(EventId = 803, Level = LogLevel.Debug, Message = "metrics client failed: {Reason}")]
    private partial void LogClientFailed(string reason);
}
