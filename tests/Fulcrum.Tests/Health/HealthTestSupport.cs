using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Config;
using Fulcrum.Health;

namespace Fulcrum.Tests.Health;

/// <summary>Checkers built from keepalived.conf text, so the tests also cover the model's defaults.</summary>
internal static class HealthConfig
{
    public static KeepalivedConfiguration Parse(string text)
    {
        var r = KeepalivedConfig.Parse(text, "health.conf");
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        return r.Configuration;
    }

    /// <summary>The first checker of the first real server of a one-service config on loopback.</summary>
    public static T Checker<T>(string checkerBlock, int port)
        where T : HealthCheck
    {
        var c = Parse($$"""
            virtual_server 127.0.0.1 80 {
                lb_kind NAT
                real_server 127.0.0.1 {{port}} {
                    {{checkerBlock}}
                }
            }
            """);
        return Assert.IsType<T>(Assert.Single(Assert.Single(Assert.Single(c.VirtualServers).RealServers).Checkers));
    }
}

/// <summary>A tiny HTTP/1.0 responder on 127.0.0.1: records each request, answers, closes.</summary>
internal sealed class TinyHttpServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _cts = new();
    private readonly Func<string, string?> _respond;

    /// <param name="respond">request text → raw response, or null to never answer.</param>
    public TinyHttpServer(Func<string, string?> respond)
    {
        _respond = respond;
        _listener.Start();
        _ = AcceptLoop();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public List<string> Requests { get; } = [];

    /// <summary>Keep each connection open after the response, as a server ignoring HTTP/1.0 would.</summary>
    public bool KeepOpen { get; init; }

    public static string Response(int status, string body) =>
        $"HTTP/1.0 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {Encoding.ASCII.GetByteCount(body)}\r\n\r\n{body}";

    public void Dispose()
    {
        _cts.Cancel();
        _listener.Stop();
        _cts.Dispose();
    }

    private async Task AcceptLoop()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_cts.Token);
                _ = Serve(client);
            }
        }
        catch (Exception)
        {
            // Stopped.
        }
    }

    private async Task Serve(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var buf = new byte[4096];
                var text = new StringBuilder();
                while (!text.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    int n = await stream.ReadAsync(buf, _cts.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    text.Append(Encoding.ASCII.GetString(buf, 0, n));
                }

                lock (Requests)
                {
                    Requests.Add(text.ToString());
                }

                var response = _respond(text.ToString());
                if (response is null)
                {
                    await Task.Delay(Timeout.Infinite, _cts.Token);
                    return;
                }

                await stream.WriteAsync(Encoding.ASCII.GetBytes(response), _cts.Token);
                if (KeepOpen)
                {
                    await Task.Delay(Timeout.Infinite, _cts.Token);
                }
            }
            catch (Exception)
            {
                // The checker went away or the server stopped.
            }
        }
    }
}

/// <summary>A checker whose answer the test sets; counts its runs.</summary>
internal sealed class ManualChecker(string kind = "TCP_CHECK") : IHealthChecker
{
    private volatile StrongBox? _result = new(CheckResult.Success);
    private int _runs;

    public string Kind => kind;

    public int Runs => Volatile.Read(ref _runs);

    public CheckResult Result
    {
        get => _result!.Value;
        set => _result = new StrongBox(value);
    }

    public Task<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _runs);
        return Task.FromResult(_result!.Value);
    }

    private sealed class StrongBox(CheckResult value)
    {
        public CheckResult Value { get; } = value;
    }
}

internal static class Eventually
{
    /// <summary>Advances fake time in small steps until <paramref name="condition"/> holds (or fails the test).</summary>
    public static void Holds(Microsoft.Extensions.Time.Testing.FakeTimeProvider time, Func<bool> condition, TimeSpan maxFakeTime, string what)
    {
        var step = TimeSpan.FromMilliseconds(100);
        for (var t = TimeSpan.Zero; t <= maxFakeTime; t += step)
        {
            if (WaitReal(condition, TimeSpan.FromMilliseconds(20)))
            {
                return;
            }

            time.Advance(step);
        }

        Assert.True(WaitReal(condition, TimeSpan.FromMilliseconds(500)), $"not within {maxFakeTime} of fake time: {what}");
    }

    /// <summary>Waits real time (for thread-pool continuations) until <paramref name="condition"/> holds.</summary>
    public static bool WaitReal(Func<bool> condition, TimeSpan max)
    {
        var until = DateTime.UtcNow + max;
        while (!condition())
        {
            if (DateTime.UtcNow > until)
            {
                return false;
            }

            Thread.Sleep(2);
        }

        return true;
    }
}
