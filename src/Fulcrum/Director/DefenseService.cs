using Fulcrum.Balancing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Director;

/// <summary>
/// ip_vs_ctl.c's defense_work: once a second, update_defense_level from the connection table's free room
/// (the workers then apply drop_entry on their own tables and drop_packet/secure_tcp on their own path).
/// </summary>
internal sealed partial class DefenseService : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    private readonly IpvsTable _table;
    private readonly ILogger<DefenseService> _logger;

    public DefenseService(IpvsTable table, ILogger<DefenseService> logger)
    {
        _table = table;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var defense = _table.Defense;
        using var timer = new PeriodicTimer(Period);
        bool wasActive = false;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                _table.UpdateDefense();
                bool active = defense.DropEntryActive || defense.DropRate != 0 || defense.SecureTcpActive;
                if (active != wasActive)
                {
                    LogDefense(active ? "on" : "off", defense.Available, defense.Capacity, defense.AmemThresh,
                        defense.DropEntryMode, defense.DropPacketMode, defense.DropRate, defense.SecureTcpMode);
                    wasActive = active;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = 220, Level = LogLevel.Warning,
        Message = "SYN-flood defense {State}: {Available} of {Capacity} connection entries free (amemthresh {Threshold}); drop_entry={DropEntry} drop_packet={DropPacket} (1/{Rate}) secure_tcp={SecureTcp}")]
    private partial void LogDefense(string state, long available, long capacity, int threshold, int dropEntry, int dropPacket, int rate, int secureTcp);
}
