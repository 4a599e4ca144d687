using Fulcrum.Balancing;
using Fulcrum.Config;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Health;

public static class HealthServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="HealthMonitor"/> over the director's <see cref="IpvsTable"/> (and its
    /// <see cref="TimeProvider"/>) and the <see cref="HealthService"/> that runs it. Register after
    /// the table; <paramref name="configuration"/> supplies the keepalived.conf loaded at startup;
    /// <paramref name="options"/>, when given, replaces the default options.
    /// </summary>
    public static IServiceCollection AddFulcrumHealth(
        this IServiceCollection services,
        Func<IServiceProvider, KeepalivedConfiguration> configuration,
        Func<IServiceProvider, HealthMonitorOptions>? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddSingleton(sp => new HealthMonitor(
            configuration(sp),
            sp.GetRequiredService<IpvsTable>(),
            sp.GetService<ILogger<HealthMonitor>>(),
            options?.Invoke(sp) ?? new HealthMonitorOptions { Time = sp.GetService<TimeProvider>() ?? TimeProvider.System }));
        services.AddSingleton<HealthService>();
        services.AddHostedService(sp => sp.GetRequiredService<HealthService>());
        return services;
    }
}
