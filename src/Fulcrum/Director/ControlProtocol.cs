using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Linux;

namespace Fulcrum.Director;

/// <summary>
/// The control socket's framing: one request, one response, then the connection closes.
/// Request: verb, argument list and standard input (for ipvsadm -R). Response: exit code,
/// stdout and stderr, which the client prints unchanged so `fulcrum adm` answers byte for byte
/// as ipvsadm would. Length-prefixed UTF-8 strings; a hand-rolled frame because the messages are
/// three fields and the binary must stay Native AOT friendly (no reflection-based serializer).
/// </summary>
public static class ControlProtocol
{
    /// <summary>The default socket path: root's runtime directory, like other daemons' control sockets.</summary>
    public const string DefaultSocketPath = "/run/fulcrum/fulcrum.sock";

    // A request larger than this is refused: -R of 10,000 real servers is ~600 KB.
    private const int MaxMessageBytes = 64 << 20;

    public sealed record Request(string Verb, IReadOnlyList<string> Args, string Stdin);

    public sealed record Response(int ExitCode, string Stdout, string Stderr);

    public static async Task WriteRequestAsync(Stream stream, Request request, CancellationToken ct)
    {
        using var buffer = RequestBody(request);
        await WriteFrameAsync(stream, buffer, ct).ConfigureAwait(false);
    }

    private static MemoryStream RequestBody(Request request)
    {
        // Room for the 4-byte length, filled in by the writer.
        var buffer = new MemoryStream();
        WriteInt(buffer, 0);
        WriteString(buffer, request.Verb);
        WriteInt(buffer, request.Args.Count);
        foreach (var arg in request.Args)
        {
            WriteString(buffer, arg);
        }

        WriteString(buffer, request.Stdin);
        return buffer;
    }

    public static async Task<Request> ReadRequestAsync(Stream stream, CancellationToken ct)
    {
        var body = await ReadFrameAsync(stream, ct).ConfigureAwait(false);
        int offset = 0;
        var verb = ReadString(body, ref offset);
        int count = ReadInt(body, ref offset);
        if (count < 0 || count > body.Length)
        {
            throw new InvalidDataException("bad argument count");
        }

        var args = new string[count];
        for (int i = 0; i < count; i++)
        {
            args[i] = ReadString(body, ref offset);
        }

        var stdin = ReadString(body, ref offset);
        return new Request(verb, args, stdin);
    }

    public static async Task WriteResponseAsync(Stream stream, Response response, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        WriteInt(buffer, 0);
        WriteInt(buffer, response.ExitCode);
        WriteString(buffer, response.Stdout);
        WriteString(buffer, response.Stderr);
        await WriteFrameAsync(stream, buffer, ct).ConfigureAwait(false);
    }

    public static async Task<Response> ReadResponseAsync(Stream stream, CancellationToken ct) =>
        ParseResponse(await ReadFrameAsync(stream, ct).ConfigureAwait(false));

    private static Response ParseResponse(byte[] body)
    {
        int offset = 0;
        int exit = ReadInt(body, ref offset);
        var stdout = ReadString(body, ref offset);
        var stderr = ReadString(body, ref offset);
        return new Response(exit, stdout, stderr);
    }

    /// <summary>Sends one request to the daemon at <paramref name="socketPath"/> and returns its response.</summary>
    public static async Task<Response> CallAsync(string socketPath, Request request, CancellationToken ct)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await WriteRequestAsync(stream, request, ct).ConfigureAwait(false);
        return await ReadResponseAsync(stream, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The same call, synchronously on plain system calls: `fulcrum adm` makes exactly one, and a process that
    /// lives a few milliseconds should not start the epoll thread, thread-pool workers and socket statics the
    /// async path needs (issue 5: adm answers in under 20 ms). Connection failures are <see cref="LinuxException"/>s.
    /// </summary>
    public static Response Call(string socketPath, Request request)
    {
        using var client = UnixStreamClient.Connect(socketPath);
        using (var body = RequestBody(request))
        {
            var frame = body.GetBuffer().AsSpan(0, (int)body.Length);
            BinaryPrimitives.WriteInt32BigEndian(frame, frame.Length - 4);
            client.Send(frame);
        }

        Span<byte> header = stackalloc byte[4];
        client.ReceiveExactly(header);
        int length = BinaryPrimitives.ReadInt32BigEndian(header);
        if (length < 0 || length > MaxMessageBytes)
        {
            throw new InvalidDataException($"control message of {length} bytes refused");
        }

        var response = new byte[length];
        client.ReceiveExactly(response);
        return ParseResponse(response);
    }

    private static async Task WriteFrameAsync(Stream stream, MemoryStream body, CancellationToken ct)
    {
        // One write: the body starts with room for its length.
        var frame = body.GetBuffer().AsMemory(0, (int)body.Length);
        BinaryPrimitives.WriteInt32BigEndian(frame.Span, frame.Length - 4);
        await stream.WriteAsync(frame, ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
    }

    private static async Task<byte[]> ReadFrameAsync(Stream stream, CancellationToken ct)
    {
        var header = new byte[4];
        await stream.ReadExactlyAsync(header, ct).ConfigureAwait(false);
        int length = BinaryPrimitives.ReadInt32BigEndian(header);
        if (length < 0 || length > MaxMessageBytes)
        {
            throw new InvalidDataException($"control message of {length} bytes refused");
        }

        var body = new byte[length];
        await stream.ReadExactlyAsync(body, ct).ConfigureAwait(false);
        return body;
    }

    private static void WriteInt(MemoryStream s, int value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b, value);
        s.Write(b);
    }

    private static void WriteString(MemoryStream s, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        WriteInt(s, bytes.Length);
        s.Write(bytes);
    }

    private static int ReadInt(byte[] body, ref int offset)
    {
        if (offset + 4 > body.Length)
        {
            throw new InvalidDataException("truncated control message");
        }

        int v = BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(offset));
        offset += 4;
        return v;
    }

    private static string ReadString(byte[] body, ref int offset)
    {
        int length = ReadInt(body, ref offset);
        if (length < 0 || offset + length > body.Length)
        {
            throw new InvalidDataException("truncated control message");
        }

        var s = Encoding.UTF8.GetString(body, offset, length);
        offset += length;
        return s;
    }
}
