using Fulcrum.Balancing;
using Fulcrum.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Director;

/// <summary>Composes the director daemon: one hosted service per concern (design.md, "The control plane").</summary>
public static class DirectorHost
{
    public static IHost Build(DirectorOptions options)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ApplicationName = "fulcrum",
        });
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Services.AddSystemd();
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NOTIFY_SOCKET")))
        {
            // AddSystemd only switches on when the parent process is systemd itself; a unit whose
            // ExecStart is a wrapper (`ip netns exec NS fulcrum run`, as a director in a namespace
            // is started) would never send READY=1. systemd's NOTIFY_SOCKET is the real signal.
            builder.Services.AddSingleton<ISystemdNotifier, SystemdNotifier>();
            builder.Services.AddSingleton<IHostLifetime, SystemdLifetime>();
        }
        builder.Services.AddFulcrumDirector(options);
        return builder.Build();
    }

    public static IServiceCollection AddFulcrumDirector(this IServiceCollection services, DirectorOptions options)
    {
        options = DataPlaneService.FitWorkers(options);
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new IpvsTable(sp.GetRequiredService<TimeProvider>(), options.ResolvedWorkers, options.MaxConnectionsPerWorker, options.Defense) { SloppyTcp = options.SloppyTcp });
        // Connection sync: on the table before any worker or daemon starts, so both see it.
        services.AddSingleton(sp =>
        {
            var table = sp.GetRequiredService<IpvsTable>();
            var sync = new Sync.SyncService(table, sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<Sync.SyncService>>(), options.Sync);
            table.Sync = sync;
            return sync;
        });
        services.AddHostedService(sp => sp.GetRequiredService<Sync.SyncService>());
        services.AddSingleton<DirectorStatus>();
        services.AddSingleton<ConfigService>();
        services.AddHostedService(sp => sp.GetRequiredService<ConfigService>());
        services.AddHostedService<FwMarkRulesService>();

        // Start order matters: stale rules go before the ring opens; the socket opens last,
        // so a client that can connect finds a working director.
        services.AddSingleton<ServiceClaimService>();
        services.AddHostedService(sp => sp.GetRequiredService<ServiceClaimService>());
        services.AddSingleton<KernelTierHost>();
        services.AddSingleton<DataPlaneService>();
        services.AddHostedService(sp =>
        {
            var dataPlane = sp.GetRequiredService<DataPlaneService>();
            sp.GetRequiredService<DirectorStatus>().Attach(dataPlane);
            return dataPlane;
        });
        services.AddHostedService<NeighbourService>();
        services.AddHostedService<RateEstimatorService>();
        services.AddHostedService<DefenseService>();
        services.AddHostedService<ControlSocketServer>();

        // Other parts add their own sections with services.AddSingleton<IMetricsSource, ...>().
        services.AddSingleton<IMetricsSource, DirectorMetrics>();
        services.AddSingleton<IMetricsSource, Sync.SyncMetrics>();
        if (options.MetricsEndpoint is { } metrics)
        {
            services.AddHostedService(sp => new MetricsHttpServer(metrics, sp.GetServices<IMetricsSource>(), sp.GetRequiredService<ILogger<MetricsHttpServer>>()));
        }

        return services;
    }
}
