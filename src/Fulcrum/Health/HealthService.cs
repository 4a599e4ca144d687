using Microsoft.Extensions.Hosting;

namespace Fulcrum.Health;

/// <summary>Hosts a <see cref="HealthMonitor"/> in the daemon: starts it with the host, stops its checkers on shutdown.</summary>
public sealed class HealthService : BackgroundService
{
    private readonly HealthMonitor _monitor;

    public HealthService(HealthMonitor monitor)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        _monitor = monitor;
    }

    public HealthMonitor Monitor => _monitor;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _monitor.Start();
        try
        {
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            await _monitor.StopAsync().ConfigureAwait(false);
        }
    }
}
