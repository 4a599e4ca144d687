using Fulcrum.Balancing;
using Fulcrum.Linux;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Director;

/// <summary>
/// Owns the data-plane workers: opens the AF_PACKET ring on the director's interface and runs
/// each worker on a dedicated thread (a worker blocks in poll(2); thread-pool threads must not).
/// </summary>
internal sealed partial class DataPlaneService : IHostedService, IDisposable
{
    private readonly DirectorOptions _options;
    private readonly IpvsTable _table;
    private readonly ILogger<DataPlaneService> _logger;
    private readonly KernelTierHost? _kernel;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(DataPlaneWorker Worker, Thread Thread)> _workers = [];

    public DataPlaneService(DirectorOptions options, IpvsTable table, ILogger<DataPlaneService> logger, KernelTierHost? kernel = null)
    {
        _options = options;
        _table = table;
        _logger = logger;
        _kernel = kernel;
    }

    public IReadOnlyList<DataPlaneWorker> Workers => _workers.ConvertAll(w => w.Worker);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        ulong mac = NetInterface.GetMac(_options.Interface);
        _kernel?.Start();
        var ring = new PacketRing(NetInterface.GetIndex(_options.Interface));
        var worker = new DataPlaneWorker(ring, _table, 0, mac);
        _kernel?.Bind(worker.Balancer, ring);
        var thread = new Thread(() => worker.Run(_stop.Token))
        {
            IsBackground = true,
            Name = "fulcrum-worker-0",
        };
        _workers.Add((worker, thread));
        thread.Start();
        LogStarted(_options.Interface, _workers.Count);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stop.Cancel();
        foreach (var (_, thread) in _workers)
        {
            thread.Join(TimeSpan.FromSeconds(2));
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

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "data plane on {Interface}: AF_PACKET TPACKET_V3, {Workers} worker(s)")]
    private partial void LogStarted(string @interface, int workers);
}
