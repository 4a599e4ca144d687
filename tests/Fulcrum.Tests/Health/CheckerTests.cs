using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Fulcrum.Config;
using Fulcrum.Health;

namespace Fulcrum.Tests.Health;

public class TcpCheckerTests
{
    [Fact]
    public async Task CheckAsync_ListeningPort_Up()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var checker = new TcpChecker(HealthConfig.Checker<TcpCheck>("TCP_CHECK {\n connect_timeout 2\n }", port));
            var result = await checker.CheckAsync(CancellationToken.None);
            Assert.True(result.Up, result.Reason);
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task CheckAsync_ClosedPort_DownWithReason()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var checker = new TcpChecker(HealthConfig.Checker<TcpCheck>("TCP_CHECK {\n connect_timeout 2\n }", port));
        var result = await checker.CheckAsync(CancellationToken.None);
        Assert.False(result.Up);
        Assert.Contains("ConnectionRefused", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckAsync_ConnectPortOverride_ConnectsThere()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;

            // The real server's own port (1) has nothing; connect_port points at the listener.
            var checker = new TcpChecker(HealthConfig.Checker<TcpCheck>($"TCP_CHECK {{\n connect_port {port}\n connect_ip 127.0.0.1\n bindto 127.0.0.1\n }}", 1));
            Assert.True((await checker.CheckAsync(CancellationToken.None)).Up);
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task CheckAsync_SynsUnanswered_DownAfterConnectTimeout()
    {
        // A listener with a full accept queue drops further SYNs: the connect hangs, as towards a dead host.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var fillers = new List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                fillers.Add(s);
                _ = s.ConnectAsync(IPAddress.Loopback, port);
            }

            await Task.Delay(100);
            var checker = new TcpChecker(HealthConfig.Checker<TcpCheck>("TCP_CHECK {\n connect_timeout 0.3\n }", port));
            var sw = Stopwatch.StartNew();
            var result = await checker.CheckAsync(CancellationToken.None);
            Assert.False(result.Up);
            Assert.Equal("connect timeout", result.Reason);
            Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(3));
        }
        finally
        {
            foreach (var s in fillers)
            {
                s.Dispose();
            }
        }
    }
}

public class HttpCheckerTests
{
    private static HttpChecker Http(string block, int port) => new(HealthConfig.Checker<HttpCheck>(block, port));

    // What genhash prints for a body: keepalived's digest is MD5, hex.
    private static string Md5Hex(byte[] body)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        md5.AppendData(body);
        return Convert.ToHexStringLower(md5.GetHashAndReset());
    }

    [Fact]
    public async Task CheckAsync_200_UpAndSendsKeepalivedRequest()
    {
        using var server = new TinyHttpServer(_ => TinyHttpServer.Response(200, "ok\n"));
        var result = await Http("HTTP_GET {\n url {\n path /health\n }\n connect_timeout 2\n }", server.Port).CheckAsync(CancellationToken.None);
        Assert.True(result.Up, result.Reason);
        var request = Assert.Single(server.Requests);
        Assert.Equal($"GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:{server.Port}\r\n\r\n", request);
    }

    [Fact]
    public async Task CheckAsync_VirtualHost_SentAsHost()
    {
        using var server = new TinyHttpServer(_ => TinyHttpServer.Response(200, ""));
        var result = await Http("HTTP_GET {\n url {\n path /\n virtualhost www.example.org\n }\n }", server.Port).CheckAsync(CancellationToken.None);
        Assert.True(result.Up, result.Reason);
        Assert.Contains($"\r\nHost: www.example.org:{server.Port}\r\n", Assert.Single(server.Requests), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(200, "", true)]
    [InlineData(299, "", true)]
    [InlineData(302, "", false)]
    [InlineData(503, "", false)]
    [InlineData(302, "status_code 301-302", true)]
    [InlineData(200, "status_code 301-302", false)]
    [InlineData(404, "status_code 200 404", true)]
    public async Task CheckAsync_Status_MatchesRanges(int status, string statusLine, bool up)
    {
        using var server = new TinyHttpServer(_ => TinyHttpServer.Response(status, "x"));
        var result = await Http($"HTTP_GET {{\n url {{\n path /\n {statusLine}\n }}\n }}", server.Port).CheckAsync(CancellationToken.None);
        Assert.Equal(up, result.Up);
        if (!up)
        {
            Assert.Equal($"/: HTTP status {status}", result.Reason);
        }
    }

    [Fact]
    public async Task CheckAsync_DigestMatches_Up()
    {
        const string body = "rs2\n";
        string md5 = Md5Hex(Encoding.ASCII.GetBytes(body));
        using var server = new TinyHttpServer(_ => TinyHttpServer.Response(200, body));
        var result = await Http($"HTTP_GET {{\n url {{\n path /\n digest {md5}\n }}\n }}", server.Port).CheckAsync(CancellationToken.None);
        Assert.True(result.Up, result.Reason);
    }

    [Fact]
    public async Task CheckAsync_DigestMismatch_Down()
    {
        string md5 = Md5Hex("expected"u8.ToArray());
        using var server = new TinyHttpServer(_ => TinyHttpServer.Response(200, "something else"));
        var result = await Http($"HTTP_GET {{\n url {{\n path /\n digest {md5}\n }}\n }}", server.Port).CheckAsync(CancellationToken.None);
        Assert.False(result.Up);
        Assert.Contains("does not match", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckAsync_ServerKeepsConnectionOpen_ContentLengthEndsBody()
    {
        // Without honouring Content-Length the checker would wait for a close that never comes and
        // time out; the byte after the body must not be hashed.
        string md5 = Md5Hex("body"u8.ToArray());
        using var server = new TinyHttpServer(_ => "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbodyX") { KeepOpen = true };
        var result = await Http($"HTTP_GET {{\n url {{\n path /\n digest {md5}\n }}\n connect_timeout 3\n }}", server.Port).CheckAsync(CancellationToken.None);
        Assert.True(result.Up, result.Reason);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 12", 12L)]
    [InlineData("HTTP/1.1 200 OK\r\nX: 1\r\ncontent-length:7", 7L)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: x", null)]
    [InlineData("HTTP/1.1 200 OK", null)]
    public void ContentLength_Header_Parsed(string header, long? expected) =>
        Assert.Equal(expected, HttpChecker.ContentLength(Encoding.ASCII.GetBytes(header)));

    [Fact]
    public async Task CheckAsync_SecondUrlFails_Down()
    {
        using var server = new TinyHttpServer(req => req.StartsWith("GET /bad ", StringComparison.Ordinal) ? TinyHttpServer.Response(500, "") : TinyHttpServer.Response(200, ""));
        var result = await Http("HTTP_GET {\n url {\n path /good\n }\n url {\n path /bad\n }\n }", server.Port).CheckAsync(CancellationToken.None);
        Assert.False(result.Up);
        Assert.Equal("/bad: HTTP status 500", result.Reason);
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task CheckAsync_ServerNeverAnswers_DownAfterConnectTimeout()
    {
        using var server = new TinyHttpServer(_ => null);
        var sw = Stopwatch.StartNew();
        var result = await Http("HTTP_GET {\n url {\n path /\n }\n connect_timeout 0.3\n }", server.Port).CheckAsync(CancellationToken.None);
        Assert.False(result.Up);
        Assert.Equal("timeout on /", result.Reason);
        Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task CheckAsync_GarbageResponse_Down()
    {
        using var server = new TinyHttpServer(_ => "SSH-2.0-OpenSSH\r\n\r\n");
        var result = await Http("HTTP_GET {\n url {\n path /\n }\n }", server.Port).CheckAsync(CancellationToken.None);
        Assert.False(result.Up);
        Assert.Equal("/: malformed status line", result.Reason);
    }

    [Fact]
    public async Task CheckAsync_SslSelfSignedCertificate_UpAndDigestOverTls()
    {
        using var rsa = RSA.Create(2048);
        var req = new CertificateRequest("CN=rs.test", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var ephemeral = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var cert = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        string? request = null;
        var serve = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            using var ssl = new SslStream(client.GetStream());
            await ssl.AuthenticateAsServerAsync(cert);
            var buf = new byte[4096];
            int n = await ssl.ReadAsync(buf);
            request = Encoding.ASCII.GetString(buf, 0, n);
            await ssl.WriteAsync(Encoding.ASCII.GetBytes(TinyHttpServer.Response(200, "tls\n")));
            await ssl.ShutdownAsync();
        });
        try
        {
            string md5 = Md5Hex("tls\n"u8.ToArray());
            var checker = Http($"SSL_GET {{\n url {{\n path /\n digest {md5}\n }}\n connect_timeout 5\n }}", port);
            Assert.Equal("SSL_GET", checker.Kind);
            var result = await checker.CheckAsync(CancellationToken.None);
            Assert.True(result.Up, result.Reason);
            await serve;
            Assert.StartsWith("GET / HTTP/1.0\r\n", request, StringComparison.Ordinal);
        }
        finally
        {
            listener.Stop();
        }
    }

    [Theory]
    [InlineData("HTTP_GET", "2001:db8::2", 80, "Host: [2001:db8::2]\r\n")]
    [InlineData("HTTP_GET", "2001:db8::2", 8080, "Host: [2001:db8::2]:8080\r\n")]
    [InlineData("SSL_GET", "198.51.100.2", 443, "Host: 198.51.100.2\r\n")]
    [InlineData("SSL_GET", "198.51.100.2", 80, "Host: 198.51.100.2:80\r\n")]
    public void BuildRequest_Address_HostLikeKeepalived(string kind, string address, int port, string host)
    {
        string vip = address.Contains(':', StringComparison.Ordinal) ? "2001:db8:100::100" : "198.51.100.100";
        var config = HealthConfig.Parse($"virtual_server {vip} 80 {{\n real_server {address} {port} {{\n {kind} {{\n url {{\n path /x\n }}\n }}\n }}\n}}\n");
        var check = Assert.IsType<HttpCheck>(config.VirtualServers[0].RealServers[0].Checkers[0]);
        Assert.Equal($"GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\n{host}\r\n", new HttpChecker(check).BuildRequest(check.Urls[0]));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK", 200)]
    [InlineData("HTTP/1.0 404", 404)]
    [InlineData("HTTP/1.1 20 OK", -1)]
    [InlineData("HTTX/1.1 200 OK", -1)]
    [InlineData("HTTP/1.1 2000 OK", -1)]
    public void TryParseStatus_StatusLine_ParsesThreeDigits(string line, int expected)
    {
        bool ok = HttpChecker.TryParseStatus(Encoding.ASCII.GetBytes(line + "\r\nX: y"), out int status);
        Assert.Equal(expected >= 0, ok);
        if (ok)
        {
            Assert.Equal(expected, status);
        }
    }
}

public class MiscCheckerTests
{
    private static MiscChecker Misc(string block) => new(HealthConfig.Checker<MiscCheck>(block, 80));

    [Theory]
    [InlineData("exit 0", false, true, null)]
    [InlineData("exit 1", false, false, null)]
    [InlineData("exit 7", false, false, null)]
    [InlineData("exit 0", true, true, null)]
    [InlineData("exit 1", true, false, null)]
    [InlineData("exit 2", true, true, 0)]
    [InlineData("exit 7", true, true, 5)]
    [InlineData("exit 255", true, true, 253)]
    public async Task CheckAsync_ExitStatus_UpAndDynamicWeight(string script, bool dynamic, bool up, int? weight)
    {
        var checker = Misc($"MISC_CHECK {{\n misc_path \"{script}\"\n {(dynamic ? "misc_dynamic" : "")}\n }}");
        var result = await checker.CheckAsync(CancellationToken.None);
        Assert.Equal(up, result.Up);
        Assert.Equal(weight, result.Weight);
    }

    [Fact]
    public async Task CheckAsync_ArgumentsThroughShell_Passed()
    {
        var checker = Misc("MISC_CHECK {\n misc_path \"test 'a b' = 'a b'\"\n }");
        Assert.True((await checker.CheckAsync(CancellationToken.None)).Up);
    }

    [Fact]
    public async Task CheckAsync_ScriptOutlivesMiscTimeout_KilledAndDown()
    {
        var checker = Misc("MISC_CHECK {\n misc_path \"sleep 10\"\n misc_timeout 1\n }");
        var sw = Stopwatch.StartNew();
        var result = await checker.CheckAsync(CancellationToken.None);
        Assert.False(result.Up);
        Assert.Equal("timed out", result.Reason);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"took {sw.Elapsed}");
    }
}

public class DnsCheckerTests
{
    /// <summary>Answers each query by <paramref name="respond"/> (query → datagrams to send back).</summary>
    private sealed class DnsResponder : IDisposable
    {
        private readonly UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));
        private readonly Task _loop;

        public DnsResponder(Func<byte[], IEnumerable<byte[]>> respond)
        {
            _loop = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        var r = await _udp.ReceiveAsync();
                        Queries.Add(r.Buffer);
                        foreach (var reply in respond(r.Buffer))
                        {
                            await _udp.SendAsync(reply, r.RemoteEndPoint);
                        }
                    }
                }
                catch (Exception)
                {
                    // Disposed.
                }
            });
        }

        public System.Collections.Concurrent.ConcurrentBag<byte[]> Queries { get; } = [];

        public int Port => ((IPEndPoint)_udp.Client.LocalEndPoint!).Port;

        public void Dispose() => _udp.Dispose();
    }

    private static byte[] Reply(byte[] query, int rcode, int answers = 1, bool qr = true, int idDelta = 0)
    {
        var r = (byte[])query.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(r, (ushort)(BinaryPrimitives.ReadUInt16BigEndian(query) + idDelta));
        BinaryPrimitives.WriteUInt16BigEndian(r.AsSpan(2), (ushort)((qr ? 0x8000 : 0) | 0x0180 | rcode));
        BinaryPrimitives.WriteUInt16BigEndian(r.AsSpan(6), (ushort)answers);
        return r;
    }

    private static DnsChecker Dns(string block, int port) => new(HealthConfig.Checker<DnsCheck>(block, port));

    [Fact]
    public async Task CheckAsync_NoErrorReply_UpAndQueryIsWellFormed()
    {
        using var dns = new DnsResponder(q => [Reply(q, 0)]);
        var result = await Dns("DNS_CHECK {\n type A\n name www.example.org\n connect_timeout 2\n }", dns.Port).CheckAsync(CancellationToken.None);
        Assert.True(result.Up, result.Reason);
        var query = Assert.Single(dns.Queries);
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(query);
        Assert.Equal(DnsChecker.BuildQuery(id, "www.example.org", 1), query);
        Assert.Equal(
            [0, 1, 0, 0, 0, 0, 0, 0, 3, (byte)'w', (byte)'w', (byte)'w', 7, (byte)'e', (byte)'x', (byte)'a', (byte)'m', (byte)'p', (byte)'l', (byte)'e', 3, (byte)'o', (byte)'r', (byte)'g', 0, 0, 1, 0, 1],
            query[4..]);
        Assert.Equal(0x0100, BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(2)));
    }

    [Fact]
    public async Task CheckAsync_DefaultSoaOfRoot_QueriesRootSoa()
    {
        using var dns = new DnsResponder(q => [Reply(q, 0)]);
        var result = await Dns("DNS_CHECK {\n }", dns.Port).CheckAsync(CancellationToken.None);
        Assert.True(result.Up, result.Reason);
        Assert.Equal(new byte[] { 0, 0, 6, 0, 1 }, Assert.Single(dns.Queries)[12..]);
    }

    [Fact]
    public async Task CheckAsync_NxDomain_Down()
    {
        using var dns = new DnsResponder(q => [Reply(q, 3, answers: 0)]);
        var result = await Dns("DNS_CHECK {\n name nope.example\n }", dns.Port).CheckAsync(CancellationToken.None);
        Assert.False(result.Up);
        Assert.Equal("rcode 3", result.Reason);
    }

    [Fact]
    public async Task CheckAsync_NoErrorWithoutAnswers_UpAsKeepalived()
    {
        // check_dns.c decides on id, QR and rcode only; it never reads ANCOUNT.
        using var dns = new DnsResponder(q => [Reply(q, 0, answers: 0)]);
        Assert.True((await Dns("DNS_CHECK {\n type AAAA\n name example.org\n }", dns.Port).CheckAsync(CancellationToken.None)).Up);
    }

    [Fact]
    public async Task CheckAsync_WrongIdAndQueryEchoFirst_IgnoredThenUp()
    {
        using var dns = new DnsResponder(q => [Reply(q, 2, idDelta: 1), Reply(q, 2, qr: false), new byte[5], Reply(q, 0)]);
        var result = await Dns("DNS_CHECK {\n name example.org\n connect_timeout 2\n }", dns.Port).CheckAsync(CancellationToken.None);
        Assert.True(result.Up, result.Reason);
    }

    [Fact]
    public async Task CheckAsync_NoReply_DownAfterTimeout()
    {
        using var dns = new DnsResponder(_ => []);
        var sw = Stopwatch.StartNew();
        var result = await Dns("DNS_CHECK {\n connect_timeout 0.3\n }", dns.Port).CheckAsync(CancellationToken.None);
        Assert.False(result.Up);
        Assert.Equal("no answer (timeout)", result.Reason);
        Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void BuildQuery_TrailingDot_SameAsWithout() =>
        Assert.Equal(DnsChecker.BuildQuery(7, "example.org", 6), DnsChecker.BuildQuery(7, "example.org.", 6));
}
