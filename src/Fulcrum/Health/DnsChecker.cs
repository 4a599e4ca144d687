using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Config;

namespace Fulcrum.Health;

/// <summary>
/// DNS_CHECK (check_dns.c): one UDP query (random id, RD set, class IN) for name/type. A datagram
/// shorter than a header, with another id, or that is not a response is ignored and the checker keeps
/// waiting; the first matching response decides: rcode 0 is up, any other rcode is down. Like
/// keepalived, the answer count is not looked at (an empty NOERROR answer is up). No answer within
/// connect_timeout is down.
/// </summary>
public sealed class DnsChecker : IHealthChecker
{
    private const int HeaderSize = 12;
    private readonly DnsCheck _check;
    private readonly CheckerEnvironment _env;
    private readonly ushort _type;

    public DnsChecker(DnsCheck check, CheckerEnvironment? env = null)
    {
        ArgumentNullException.ThrowIfNull(check);
        _check = check;
        _env = env ?? CheckerEnvironment.Default;
        _type = TypeCode(check.Type) ?? throw new ArgumentException($"unknown DNS type '{check.Type}'", nameof(check));
    }

    public string Kind => "DNS_CHECK";

    /// <summary>The query types check_dns.c knows (RFC 1035, 3596, 4034 codes).</summary>
    public static ushort? TypeCode(string type) => type.ToUpperInvariant() switch
    {
        "A" => 1,
        "NS" => 2,
        "CNAME" => 5,
        "SOA" => 6,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        "RRSIG" => 46,
        "DNSKEY" => 48,
        _ => null,
    };

    /// <summary>Builds the query datagram: header, QNAME labels, QTYPE, QCLASS IN (RFC 1035 §4.1).</summary>
    public static byte[] BuildQuery(ushort id, string name, ushort type)
    {
        var q = new List<byte>(HeaderSize + name.Length + 6);
        Span<byte> header = stackalloc byte[HeaderSize];
        header.Clear(); // the module skips locals init
        BinaryPrimitives.WriteUInt16BigEndian(header, id);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], 0x0100); // RD
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], 1);      // QDCOUNT
        q.AddRange(header);
        foreach (var label in name.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var bytes = Encoding.ASCII.GetBytes(label);
            if (bytes.Length > 63)
            {
                throw new ArgumentException($"DNS label '{label}' is longer than 63 bytes", nameof(name));
            }

            q.Add((byte)bytes.Length);
            q.AddRange(bytes);
        }

        // "" and "." are the root: one empty label.
        q.Add(0);
        q.Add((byte)(type >> 8));
        q.Add((byte)type);
        q.Add(0);
        q.Add(1);
        return [.. q];
    }

    public async Task<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        var c = _check.Connection;
        using var deadline = CheckSockets.StartDeadline(_env, c.ConnectTimeout, cancellationToken);
        var token = deadline.Token;
        try
        {
            using var socket = CheckSockets.Create(_env, c, SocketType.Dgram, ProtocolType.Udp);
            await socket.ConnectAsync(new IPEndPoint(c.ConnectIp, c.ConnectPort), token).ConfigureAwait(false);
            ushort id = (ushort)Random.Shared.Next(0, 0x10000);
            await socket.SendAsync(BuildQuery(id, _check.Name, _type), SocketFlags.None, token).ConfigureAwait(false);
            var buffer = new byte[4096];
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, token).ConfigureAwait(false);
                var verdict = Judge(buffer.AsSpan(0, n), id);
                if (verdict is { } result)
                {
                    return result;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return CheckResult.Failure("no answer (timeout)");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return CheckResult.Failure(CheckSockets.Describe(ex));
        }
    }

    /// <summary>null: not our response, keep waiting; otherwise the check's result.</summary>
    internal static CheckResult? Judge(ReadOnlySpan<byte> reply, ushort id)
    {
        if (reply.Length < HeaderSize || BinaryPrimitives.ReadUInt16BigEndian(reply) != id)
        {
            return null;
        }

        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(reply[2..]);
        if ((flags & 0x8000) == 0)
        {
            return null;
        }

        int rcode = flags & 0xF;
        return rcode == 0 ? CheckResult.Success : CheckResult.Failure($"rcode {rcode}");
    }
}
