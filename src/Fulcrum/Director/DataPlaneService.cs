using Fulcrum.Balancing;
using Fulcrum.Linux;
using Fulcrum.Linux.Bpf;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Director;

/// <summary>
/// Owns the data-plane workers and their driver. AF_PACKET (every driver but afxdp): one TPACKET_V3 ring
/// per worker on the director's interface, all in one PACKET_FANOUT group that hashes the client's IPv4
/// address (<see cref="DirectorOptions.FanoutPrefix"/>), so every packet of a flow, and every flow of a
/// client, reaches the same worker, which alone owns those connections. AF_XDP (`--driver afxdp`): one
/// <see cref="XdpSocket"/> per RX queue, fed by the fulcrum_xsk XDP program (<see cref="XskRedirect"/>) with
/// the claimed virtual services' frames; if that cannot be set up, AF_PACKET instead, logged. Each worker
/// runs on a dedicated thread (it blocks in poll(2); thread-pool threads must not); nothing on the hot
/// path is shared or locked.
/// </summary>
internal sealed partial class DataPlaneService : IHostedService, IDisposable
{
    private readonly DirectorOptions _options;
    private readonly IpvsTable _table;
    private readonly ILogger<DataPlaneService> _logger;
    private readonly KernelTierHost? _kernel;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(DataPlaneWorker Worker, Thread Thread)> _workers = [];
    private readonly Lock _claimsGate = new();
    private DataPlaneWorker[] _published = [];
    private XskRedirect? _xsk;

    public DataPlaneService(DirectorOptions options, IpvsTable table, ILogger<DataPlaneService> logger, KernelTierHost? kernel = null)
    {
        _options = options;
        _table = table;
        _logger = logger;
        _kernel = kernel;
    }

    /// <summary>The running workers, by index (status and metrics read their counters).</summary>
    public IReadOnlyList<DataPlaneWorker> Workers => Volatile.Read(ref _published);

    /// <summary>
    /// What forwards the packets, for `fulcrum status`: the workers' rings and the kernel tier beside them, e.g.
    /// "AF_PACKET TPACKET_V2 + kernel tier (xdp-generic)" (what `--driver auto` chose); empty until started.
    /// </summary>
    public string DataPath { get; private set; } = "";

    /// <summary>
    /// With `--driver afxdp`, at most one worker per RX queue of the interface: an AF_XDP socket binds to one
    /// queue, and a second socket on a queue would need a shared UMEM (shared fill and completion rings, so
    /// locks between workers). Other drivers: unchanged.
    /// </summary>
    public static DirectorOptions FitWorkers(DirectorOptions options)
    {
        if (options.Driver != "afxdp")
            return options;
        int queues = NetInterface.GetRxQueueCount(options.Interface);
        return options.ResolvedWorkers <= queues ? options : options with { Workers = queues };
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        ulong mac = NetInterface.GetMac(_options.Interface);
        _kernel?.Start();
        int ifIndex = NetInterface.GetIndex(_options.Interface);
        int count = _table.WorkerCount;
        try
        {
            var rings = _options.Driver == "afxdp" ? OpenXdpSockets(ifIndex, count) : null;
            // Beside the kernel tier the rings see only its misses (SYNs, handshakes, FINs): TPACKET_V2 hands each
            // one over at once, where V3 would hold it until its block's timer fired (up to a jiffy per miss,
            // measured as 0.5-1 ms more per new connection).
            var version = _kernel?.Tier is null ? PacketRingVersion.V3 : PacketRingVersion.V2;
            string driver = rings is null ? $"AF_PACKET TPACKET_{version}" : rings[0] is XdpSocket { ZeroCopy: true } ? "AF_XDP zero-copy" : "AF_XDP copy mode";
            rings ??= OpenPacketRings(ifIndex, count, version);
            _kernel?.OpenEventRings(count);
            for (int i = 0; i < count; i++)
            {
                DataPlaneWorker worker;
                try
                {
                    worker = new DataPlaneWorker(rings[i], _table, i, mac);
                }
                catch
                {
                    for (int j = i; j < count; j++)
                        rings[j].Dispose();
                    throw;
                }

                // The kernel tier's socket filter hides the frames it forwards from every ring of the group.
                _kernel?.Bind(worker.Balancer, worker.Ring);
                var thread = new Thread(() => worker.Run(_stop.Token))
                {
                    IsBackground = true,
                    Name = "fulcrum-worker-" + i,
                };
                _workers.Add((worker, thread));
            }

            string spread = rings[0] is XdpSocket
                ? $"one socket per RX queue (XDP {(_xsk!.Native ? "native" : "generic")})"
                : count > 1 ? $"fanout on the client address /{_options.FanoutPrefix}" : "no fanout";
            LogStarted(_options.Interface, driver, count, spread);
            DataPath = _kernel?.Tier is { } tier ? $"{driver} + kernel tier ({TierName(tier.Attach)})" : driver;
            if (_options.Driver == "auto")
                LogAuto(_options.Interface);
        }
        catch
        {
            Dispose();
            throw;
        }

        Volatile.Write(ref _published, _workers.ConvertAll(w => w.Worker).ToArray());
        foreach (var (_, thread) in _workers)
        {
            thread.Start();
        }

        // Once the workers drain their event rings: the program may schedule SYNs itself from now on.
        _kernel?.StartScheduling(_table);
        return Task.CompletedTask;
    }

    private IFrameRing[] OpenPacketRings(int ifIndex, int count, PacketRingVersion version)
    {
        // A fanout group id is per network namespace and interface-bound: the daemon's PID keeps two
        // directors in one namespace (on two interfaces) apart.
        var ringOptions = new PacketRingOptions
        {
            Version = version,
            FanoutGroup = count > 1 ? Environment.ProcessId & 0xFFFF : null,
            FanoutSourcePrefix = count > 1 ? _options.FanoutPrefix : null,
        };
        var rings = new IFrameRing[count];
        try
        {
            for (int i = 0; i < count; i++)
                rings[i] = new PacketRing(ifIndex, ringOptions);
        }
        catch
        {
            foreach (var r in rings)
                r?.Dispose();
            throw;
        }

        return rings;
    }

    /// <summary>
    /// The XDP program (driver mode, else generic) and one AF_XDP socket per worker on queues 0..count-1; null,
    /// logged, when any step fails (no libbpf, a driver without XDP, a queue another socket holds: EBUSY).
    /// </summary>
    private IFrameRing[]? OpenXdpSockets(int ifIndex, int count)
    {
        var sockets = new IFrameRing[count];
        try
        {
            try
            {
                _xsk = XskRedirect.Open(_options.Interface, native: true);
            }
            catch (LinuxException e)
            {
                LogXdpGeneric(_options.Interface, e.Message);
                _xsk = XskRedirect.Open(_options.Interface, native: false);
            }

            for (int q = 0; q < count; q++)
            {
                var socket = new XdpSocket(ifIndex, q);
                sockets[q] = socket;
                _xsk.Register(q, socket);
            }

            // Claims last: until a socket is registered the program would pass claimed frames to the
            // stack, where the claim rules drop them.
            SyncClaims();
            _table.Changed += SyncClaims;
            return sockets;
        }
        catch (Exception e) when (e is LinuxException or DllNotFoundException or EntryPointNotFoundException)
        {
            foreach (var s in sockets)
                s?.Dispose();
            _xsk?.Dispose();
            _xsk = null;
            LogXdpFallback(_options.Interface, e.Message);
            return null;
        }
    }

    /// <summary>Keeps fulcrum_claims equal to the table's address-based services (fwmark services cannot be matched in XDP).</summary>
    private void SyncClaims()
    {
        var claims = new List<(byte, System.Net.IPAddress, ushort)>();
        foreach (var service in _table.GetServices())
        {
            var key = service.Spec.Key;
            if (!key.IsFwMark)
                claims.Add(((byte)key.Protocol, key.Address, key.Port));
        }

        lock (_claimsGate)
        {
            try
            {
                _xsk?.SetClaims(claims);
            }
            catch (LinuxException e)
            {
                LogClaimsFailed(_options.Interface, e.Message);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _table.Changed -= SyncClaims;
        _stop.Cancel();
        foreach (var (_, thread) in _workers)
        {
            if (thread.IsAlive)
            {
                thread.Join(TimeSpan.FromSeconds(2));
            }
        }

        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _table.Changed -= SyncClaims;
        lock (_claimsGate)
        {
            // The program first: no frame is redirected to a socket about to close.
            _xsk?.Dispose();
            _xsk = null;
        }

        foreach (var (worker, _) in _workers)
        {
            worker.Dispose();
        }

        _stop.Dispose();
    }

    private static string TierName(KernelAttach attach) => attach switch
    {
        KernelAttach.Tc => "tc",
        KernelAttach.XdpNative => "xdp",
        _ => "xdp-generic",
    };

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "data plane on {Interface}: {Driver}, {Workers} worker(s), {Spread}")]
    private partial void LogStarted(string @interface, string driver, int workers, string spread);

    [LoggerMessage(EventId = 201, Level = LogLevel.Warning, Message = "AF_XDP on {Interface} unavailable, falling back to AF_PACKET: {Reason}")]
    private partial void LogXdpFallback(string @interface, string reason);

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "AF_XDP on {Interface}: native XDP refused ({Reason}), generic XDP instead")]
    private partial void LogXdpGeneric(string @interface, string reason);

    [LoggerMessage(EventId = 203, Level = LogLevel.Error, Message = "updating the AF_XDP claims on {Interface} failed: {Reason}")]
    private partial void LogClaimsFailed(string @interface, string reason);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "driver auto on {Interface}: the C# tier on AF_PACKET beside the kernel tier; AF_XDP stays opt-in (--driver afxdp): it has no kernel tier, one worker per RX queue and cannot claim fwmark services (docs/performance.md)")]
    private partial void LogAuto(string @interface);
}
