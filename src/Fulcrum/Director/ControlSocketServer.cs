using System.Net.Sockets;
using System.Runtime.InteropServices;
using Fulcrum.Adm;
using Fulcrum.Balancing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Director;

/// <summary>
/// The Unix control socket `fulcrum adm` and `fulcrum status` talk to. Only root may use it:
/// the socket file is 0600 in a 0700 directory, and each peer's uid is checked with SO_PEERCRED
/// as well (a file mode alone does not survive a careless chmod of the directory).
/// </summary>
internal sealed partial class ControlSocketServer : BackgroundService
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    private readonly DirectorOptions _options;
    private readonly IpvsTable _table;
    private readonly DirectorStatus _status;
    private readonly ILogger<ControlSocketServer> _logger;
    private readonly DrainScheduler _drains;
    private Socket? _listener;

    private readonly ServiceClaimService? _claims;

    public ControlSocketServer(DirectorOptions options, IpvsTable table, DirectorStatus status, TimeProvider time, ILogger<ControlSocketServer> logger,
        ServiceClaimService? claims = null)
    {
        _claims = claims;
        _options = options;
        _table = table;
        _status = status;
        _logger = logger;
        _drains = new DrainScheduler(table, time);
        _drains.Completed += r => LogDrainEnded(r.Address.ToString(), r.Port, r.Outcome, r.Connections);
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Bind before the host reports started, so a client that sees the daemon "ready" can connect.
        _listener = Bind(_options.ControlSocketPath);
        LogListening(_options.ControlSocketPath);
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var listener = _listener!;
        while (!stoppingToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
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
        try
        {
            File.Delete(_options.ControlSocketPath);
        }
        catch (IOException)
        {
        }
    }

    public override void Dispose()
    {
        _drains.Dispose();
        base.Dispose();
    }

    private static Socket Bind(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir))
        {
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        if (File.Exists(path))
        {
            // A socket file is left behind by a crash; refuse only if a daemon still answers on it.
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new InvalidOperationException($"another fulcrum daemon is listening on {path}");
            }
            catch (SocketException)
            {
                File.Delete(path);
            }
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        socket.Listen(16);
        return socket;
    }

    private async Task ServeAsync(Socket client, CancellationToken ct)
    {
        using (client)
        {
            try
            {
                await using var stream = new NetworkStream(client, ownsSocket: false);
                if (!PeerIsRoot(client))
                {
                    await ControlProtocol.WriteResponseAsync(stream, new ControlProtocol.Response(2, "", "Permission denied (you must be root)\n"), ct).ConfigureAwait(false);
                    return;
                }

                var request = await ControlProtocol.ReadRequestAsync(stream, ct).ConfigureAwait(false);
                ControlProtocol.Response response;
                try
                {
                    response = Handle(request);
                }
                catch (Exception ex)
                {
                    // A bug in one command must not take the daemon down, nor leave the client hanging.
                    LogCommandFailed(request.Verb, ex);
                    response = new ControlProtocol.Response(255, "", $"fulcrum: internal error: {ex.Message}\n");
                }

                await ControlProtocol.WriteResponseAsync(stream, response, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException or EndOfStreamException or OperationCanceledException)
            {
                LogClientFailed(ex.Message);
            }
        }
    }

    private ControlProtocol.Response Handle(ControlProtocol.Request request)
    {
        switch (request.Verb)
        {
            case "adm":
                {
                    long generation = _table.Snapshot.Generation;
                    var result = Ipvsadm.Run(request.Args, new StringReader(request.Stdin), _table, _drains);
                    // When ipvsadm returns, the kernel's service is live. Here the director's own stack must
                    // also be kept off a new VIP:port before we answer, or a client's first SYN can meet its RST.
                    if (_table.Snapshot.Generation != generation)
                        _claims?.ApplyNow();
                    return new ControlProtocol.Response(result.ExitCode, result.Stdout, result.Stderr);
                }

            case "status":
                return new ControlProtocol.Response(0, _status.Render(request.Args.Contains("--json")), "");
            default:
                return new ControlProtocol.Response(2, "", $"fulcrum: unknown control verb '{request.Verb}'\n");
        }
    }

    private static bool PeerIsRoot(Socket socket)
    {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (socket(7), SO_PEERCRED).
        Span<byte> cred = stackalloc byte[12];
        int n = socket.GetRawSocketOption(SolSocket, SoPeerCred, cred);
        return n >= 8 && MemoryMarshal.Read<uint>(cred[4..]) == 0;
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "control socket listening on {Path}")]
    private partial void LogListening(string path);

    [LoggerMessage(EventId = 102, Level = LogLevel.Error, Message = "control command '{Verb}' failed")]
    private partial void LogCommandFailed(string verb, Exception ex);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "drain of real server {Address}:{Port} ended: {Outcome} ({Connections} connections left)")]
    private partial void LogDrainEnded(string address, ushort port, DrainOutcome outcome, uint connections);

    [LoggerMessage(EventId = 101, Level = LogLevel.Debug, Message = "control client failed: {Reason}")]
    private partial void LogClientFailed(string reason);
}
