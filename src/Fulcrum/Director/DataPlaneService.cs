using Fulcrum.Balancing;
using Fulcrum.Linux;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Director;

/// <summary>
/// Owns the data-plane workers: opens one AF_PACKET ring per worker on the director's interface, all in one
/// PACKET_FANOUT group, and runs each worker on a dedicated thread (a worker blocks in poll(2); thread-pool
/// threads must not). The fanout hashes the client's IPv4 address (<see cref="DirectorOptions.FanoutPrefix"/>),
/// so every packet of a flow, and every flow of a client, reaches the same worker, which alone owns those
/// connections (and the client's persistence templates): nothing on the hot path is shared or locked.
/// </summary>
internal sealed partial class DataPlaneService : IHostedService, IDisposable
{
    private readonly DirectorOptions _options;
    private readonly IpvsTable _table;
    private readonly ILogger<DataPlaneService> _logger;
    private readonly KernelTierHost? _kernel;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(DataPlaneWorker Worker, Thread Thread)> _workers = [];
    private DataPlaneWorker[] _published = [];

    public DataPlaneService(DirectorOptions options, IpvsTable table, ILogger<DataPlaneService> logger, KernelTierHost? kernel = null)
    {
        _options = options;
        _table = table;
        _logger = logger;
        _kernel = kernel;
    }

    /// <summary>The running workers, by index (status and metrics read their counters).</summary>
    public IReadOnlyList<DataPlaneWorker> Workers => Volatile.Read(ref _published);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        ulong mac = NetInterface.GetMac(_options.Interface);
        _kernel?.Start();
        int ifIndex = NetInterface.GetIndex(_options.Interface);
        int count = _table.WorkerCount;
        // A fanout group id is per network namespace and interface-bound: the daemon's PID keeps two
        // directors in one namespace (on two interfaces) apart.
        var ringOptions = new PacketRingOptions
        {
            FanoutGroup = count > 1 ? Environment.ProcessId & 0xFFFF : null,
            FanoutSourcePrefix = count > 1 ? _options.FanoutPrefix : null,
        };
        try
        {
            for (int i = 0; i < count; i++)
            {
                var worker = new DataPlaneWorker(new PacketRing(ifIndex, ringOptions), _table, i, mac);
                // The kernel tier's socket filter hides the frames it forwards from every ring of the group.
                _kernel?.Bind(worker.Balancer, worker.Ring);
                var thread = new Thread(() => worker.Run(_stop.Token))
                {
                    IsBackground = true,
                    Name = "fulcrum-worker-" + i,
                };
                _workers.Add((worker, thread));
            }
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

        LogStarted(_options.Interface, count, count > 1 ? $"fanout on the client address /{_options.FanoutPrefix}" : "no fanout");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
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
        foreach (var (worker, _) in _workers)
        {
            worker.Dispose();
        }

        _stop.Dispose();
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "data plane on {Interface}: AF_PACKET TPACKET_V3, {Workers} worker(s), {Fanout}")]
    private partial void LogStarted(string @interface, int workers, string fanout);
}
