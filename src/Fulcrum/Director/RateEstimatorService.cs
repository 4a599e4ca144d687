using Fulcrum.Balancing;
using Microsoft.Extensions.Hosting;

namespace Fulcrum.Director;

/// <summary>Drives the rate estimator every 2 s, the period of the kernel's ip_vs_est.c.</summary>
internal sealed class RateEstimatorService : BackgroundService
{
    private readonly IpvsTable _table;

    public RateEstimatorService(IpvsTable table) => _table = table;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                _table.UpdateRates();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
