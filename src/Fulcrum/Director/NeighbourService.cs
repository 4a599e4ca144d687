using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Linux;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Director;

/// <summary>
/// Keeps every real server's MAC current from the kernel's neighbour table (rtnetlink), as DR
/// needs: the data plane only reads <see cref="RealServer.Mac"/>. A real server without an entry
/// gets a resolution request (the kernel then ARPs for it); changes arrive as RTM_NEWNEIGH /
/// RTM_DELNEIGH notifications, so a real server that is replaced on the same IP is followed.
/// </summary>
internal sealed partial class NeighbourService : IHostedService, IDisposable
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    private readonly DirectorOptions _options;
    private readonly IpvsTable _table;
    private readonly ILogger<NeighbourService> _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<IPAddress, ulong> _known = [];
    private NeighbourTable? _neighbours;
    private Thread? _monitor;
    private readonly CoalescingTrigger _refresh;
    private Timer? _retry;
    private int _ifIndex;

    private readonly KernelTierHost _kernel;

    public NeighbourService(DirectorOptions options, IpvsTable table, KernelTierHost kernel, ILogger<NeighbourService> logger)
    {
        _options = options;
        _table = table;
        _kernel = kernel;
        _logger = logger;
        _refresh = new CoalescingTrigger(Refresh, ex => LogResolveFailed(IPAddress.None, ex.Message));
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ifIndex = NetInterface.GetIndex(_options.Interface);
        _neighbours = new NeighbourTable();
        lock (_gate)
        {
            foreach (var entry in _neighbours.Dump(_ifIndex))
            {
                Learn(entry, deleted: false);
            }
        }

        _monitor = new Thread(() => _neighbours.RunMonitor(OnChange, _stop.Token))
        {
            IsBackground = true,
            Name = "fulcrum-neighbours",
        };
        _monitor.Start();
        _table.Changed += _refresh.Fire;
        _retry = new Timer(_ => _refresh.Fire(), null, TimeSpan.Zero, RetryInterval);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _table.Changed -= _refresh.Fire;
        _retry?.Dispose();
        _stop.Cancel();
        _monitor?.Join(TimeSpan.FromSeconds(2));
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _retry?.Dispose();
        _neighbours?.Dispose();
        _stop.Dispose();
    }

    private void OnChange(NeighbourEntry entry, bool deleted)
    {
        if (entry.IfIndex != _ifIndex)
        {
            return;
        }

        lock (_gate)
        {
            Learn(entry, deleted);
            Apply();
        }
    }

    private void Learn(NeighbourEntry entry, bool deleted)
    {
        ulong mac = deleted ? 0 : entry.Mac;
        if (mac == 0)
        {
            _known.Remove(entry.Address);
        }
        else
        {
            _known[entry.Address] = mac;
        }
    }

    /// <summary>Pushes known MACs to real servers; asks the kernel to resolve the ones still unknown.</summary>
    private void Refresh()
    {
        lock (_gate)
        {
            foreach (var address in Apply())
            {
                try
                {
                    _neighbours?.Resolve(_ifIndex, address);
                }
                catch (Exception ex)
                {
                    LogResolveFailed(address, ex.Message);
                }
            }
        }
    }

    private List<IPAddress> Apply()
    {
        var unresolved = new List<IPAddress>();
        bool changed = false;
        foreach (var service in _table.Snapshot.Services)
        {
            foreach (var server in service.Dests)
            {
                ulong mac = _known.GetValueOrDefault(server.Address);
                if (server.Mac != mac)
                {
                    server.Mac = mac;
                    changed = true;
                    LogMacChanged(server.Address, mac == 0 ? "(unknown)" : NetInterface.FormatMac(mac));
                }

                if (mac == 0 && server.Method == ForwardingMethod.DirectRoute)
                {
                    unresolved.Add(server.Address);
                }
            }
        }

        // The kernel tier's slot tables carry the real servers' MACs.
        if (changed)
            _kernel.MacsChanged();
        return unresolved;
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "real server {Address} is at {Mac}")]
    private partial void LogMacChanged(IPAddress address, string mac);

    [LoggerMessage(EventId = 401, Level = LogLevel.Warning, Message = "resolving {Address} failed: {Reason}")]
    private partial void LogResolveFailed(IPAddress address, string reason);
}
