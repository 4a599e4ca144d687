using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Fulcrum.Config;

namespace Fulcrum.Health;

/// <summary>
/// HTTP_GET and SSL_GET (check_http.c): for each url in turn, a fresh connection and one
/// "GET path HTTP/1.0" with keepalived's User-Agent and Host; the status must fall in the url's
/// status_code ranges and, when a digest is set, the MD5 of the body (hex) must equal it. Every url
/// must pass. SSL_GET accepts any certificate, as keepalived does without ssl { ca ... }.
/// </summary>
public sealed class HttpChecker : IHealthChecker
{
    private const int BufferSize = 8192;
    private readonly HttpCheck _check;
    private readonly CheckerEnvironment _env;

    public HttpChecker(HttpCheck check, CheckerEnvironment? env = null)
    {
        ArgumentNullException.ThrowIfNull(check);
        _check = check;
        _env = env ?? CheckerEnvironment.Default;
    }

    public string Kind => _check.IsSsl ? "SSL_GET" : "HTTP_GET";

    public async Task<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        foreach (var url in _check.Urls)
        {
            var result = await CheckUrlAsync(url, cancellationToken).ConfigureAwait(false);
            if (!result.Up)
            {
                return result;
            }
        }

        return CheckResult.Success;
    }

    /// <summary>The request keepalived sends (check_http.c request_template, HTTP/1.0).</summary>
    internal string BuildRequest(HttpUrl url)
    {
        var c = _check.Connection;
        string? vhost = url.VirtualHost ?? _check.VirtualHost;
        string host;
        if (vhost is not null)
        {
            host = vhost;
        }
        else
        {
            host = c.ConnectIp.AddressFamily == AddressFamily.InterNetworkV6 ? "[" + c.ConnectIp + "]" : c.ConnectIp.ToString();
        }

        // The port is named only when it is not the scheme's default.
        ushort defaultPort = _check.IsSsl ? (ushort)443 : (ushort)80;
        if (c.ConnectPort != defaultPort)
        {
            host += ":" + c.ConnectPort.ToString(CultureInfo.InvariantCulture);
        }

        return $"GET {url.Path} HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: {host}\r\n\r\n";
    }

    private async Task<CheckResult> CheckUrlAsync(HttpUrl url, CancellationToken cancellationToken)
    {
        // keepalived bounds each step by connect_timeout; one deadline for the whole exchange is
        // stricter and keeps a trickling server from holding the checker.
        using var deadline = CheckSockets.StartDeadline(_env, _check.Connection.ConnectTimeout, cancellationToken);
        var token = deadline.Token;
        try
        {
            using var socket = await CheckSockets.ConnectTcpAsync(_env, _check.Connection, token).ConfigureAwait(false);
            Stream stream = new NetworkStream(socket, ownsSocket: false);
            await using (stream.ConfigureAwait(false))
            {
                if (_check.IsSsl)
                {
                    var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                    stream = ssl;
                    await ssl.AuthenticateAsClientAsync(
                        new SslClientAuthenticationOptions
                        {
                            TargetHost = SniName(url),
                            // A health check asks "does it answer", not "is it who it says": keepalived's
                            // SSL_GET verifies nothing unless ssl { ca } is configured, and real servers
                            // behind a director routinely use self-signed certificates.
#pragma warning disable CA5359
                            RemoteCertificateValidationCallback = static (_, _, _, _) => true,
#pragma warning restore CA5359
                        },
                        token).ConfigureAwait(false);
                }

                var request = Encoding.ASCII.GetBytes(BuildRequest(url));
                await stream.WriteAsync(request, token).ConfigureAwait(false);
                await stream.FlushAsync(token).ConfigureAwait(false);
                return await ReadResponseAsync(stream, url, token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return CheckResult.Failure($"timeout on {url.Path}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return CheckResult.Failure($"{url.Path}: {CheckSockets.Describe(ex)}");
        }
    }

    // No SNI unless enable_sni (keepalived's default); then sni_name, else the virtualhost.
    private string SniName(HttpUrl url) =>
        _check.EnableSni ? _check.SniName ?? url.VirtualHost ?? _check.VirtualHost ?? "" : "";

    private static async Task<CheckResult> ReadResponseAsync(Stream stream, HttpUrl url, CancellationToken token)
    {
        var buffer = new byte[BufferSize];
        int filled = 0;
        int headerEnd;
        while ((headerEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (filled == buffer.Length)
            {
                if (buffer.Length >= 64 * 1024)
                {
                    return CheckResult.Failure($"{url.Path}: response header too large");
                }

                Array.Resize(ref buffer, buffer.Length * 2);
            }

            int n = await stream.ReadAsync(buffer.AsMemory(filled), token).ConfigureAwait(false);
            if (n == 0)
            {
                return CheckResult.Failure($"{url.Path}: connection closed before the end of the header");
            }

            filled += n;
        }

        if (!TryParseStatus(buffer.AsSpan(0, headerEnd), out int status))
        {
            return CheckResult.Failure($"{url.Path}: malformed status line");
        }

        if (!StatusMatches(url.StatusCodes, status))
        {
            return CheckResult.Failure($"{url.Path}: HTTP status {status}");
        }

        if (url.Digest is null)
        {
            return CheckResult.Success;
        }

        // check_http.c hashes the body as received (no chunked decoding: HTTP/1.0 has none) until
        // the server closes the connection. A Content-Length also ends it, so a server that keeps
        // the connection open despite HTTP/1.0 is not mistaken for a dead one.
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        long left = ContentLength(buffer.AsSpan(0, headerEnd)) ?? long.MaxValue;
        int bodyStart = headerEnd + 4;
        int chunk = (int)Math.Min(filled - bodyStart, left);
        md5.AppendData(buffer, bodyStart, chunk);
        left -= chunk;
        int read;
        while (left > 0 && (read = await stream.ReadAsync(buffer, token).ConfigureAwait(false)) > 0)
        {
            chunk = (int)Math.Min(read, left);
            md5.AppendData(buffer, 0, chunk);
            left -= chunk;
        }

        string digest = Convert.ToHexStringLower(md5.GetHashAndReset());
        if (!string.Equals(digest, url.Digest, StringComparison.OrdinalIgnoreCase))
        {
            return CheckResult.Failure($"{url.Path}: digest {digest} does not match {url.Digest}");
        }

        return CheckResult.Success;
    }

    /// <summary>The Content-Length header's value, if there is a valid one.</summary>
    internal static long? ContentLength(ReadOnlySpan<byte> header)
    {
        foreach (var range in header.Split("\r\n"u8))
        {
            var line = header[range];
            int colon = line.IndexOf((byte)':');
            if (colon < 0 || !Ascii.EqualsIgnoreCase(line[..colon].Trim((byte)' '), "Content-Length"u8))
            {
                continue;
            }

            return long.TryParse(line[(colon + 1)..].Trim((byte)' '), NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : null;
        }

        return null;
    }

    /// <summary>"HTTP/1.x NNN ...": the three digits after the first space.</summary>
    internal static bool TryParseStatus(ReadOnlySpan<byte> header, out int status)
    {
        status = 0;
        if (!header.StartsWith("HTTP/"u8))
        {
            return false;
        }

        int sp = header.IndexOf((byte)' ');
        if (sp < 0 || header.Length < sp + 4)
        {
            return false;
        }

        for (int i = sp + 1; i < sp + 4; i++)
        {
            byte b = header[i];
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            status = status * 10 + (b - '0');
        }

        return header.Length == sp + 4 || header[sp + 4] is (byte)' ' or (byte)'\r';
    }

    internal static bool StatusMatches(IReadOnlyList<StatusCodeRange> ranges, int status)
    {
        if (ranges.Count == 0)
        {
            // check_http.h: 200-299 when no status_code is given.
            return status is >= 200 and <= 299;
        }

        foreach (var r in ranges)
        {
            if (status >= r.From && status <= r.To)
            {
                return true;
            }
        }

        return false;
    }
}
