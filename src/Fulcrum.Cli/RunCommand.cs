using System.CommandLine;
using Fulcrum.Director;
using Fulcrum.Metrics;
using Microsoft.Extensions.Hosting;

namespace Fulcrum.Cli;

/// <summary>`fulcrum run`: the director daemon.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config-file", "-f") { Description = "keepalived.conf to load" };
        var iface = new Option<string>("--interface", "-i")
        {
            Description = "interface that receives virtual-service traffic and reaches the real servers",
            DefaultValueFactory = _ => "eth0",
        };
        var control = new Option<string>("--control")
        {
            Description = "control socket path (one per daemon)",
            DefaultValueFactory = _ => ControlProtocol.DefaultSocketPath,
        };
        var metrics = new Option<string>("--metrics")
        {
            Description = "serve Prometheus metrics on ADDR:PORT, or 'off'",
            DefaultValueFactory = _ => MetricsEndpoint.Default.ToString(),
        };
        var sloppyTcp = new Option<bool>("--sloppy-tcp")
        {
            Description = "as sysctl net.ipv4.vs.sloppy_tcp=1: any TCP packet but a RST may start a connection (takeover without sync)",
        };
        var command = new Command("run", "Run the director daemon") { config, iface, control, metrics, sloppyTcp };
        command.SetAction(parse =>
        {
            if (!MetricsEndpoint.TryParse(parse.GetValue(metrics), out var metricsEndpoint))
            {
                Console.Error.WriteLine($"fulcrum run: --metrics takes ADDR:PORT (e.g. 127.0.0.1:{MetricsEndpoint.DefaultPort}) or 'off', not '{parse.GetValue(metrics)}'");
                return 2;
            }

            var options = new DirectorOptions
            {
                MetricsEndpoint = metricsEndpoint,
                Interface = parse.GetValue(iface)!,
                ControlSocketPath = parse.GetValue(control)!,
                ConfigFile = parse.GetValue(config),
                SloppyTcp = parse.GetValue(sloppyTcp),
            };
            if (options.ConfigFile is not null && !CheckConfigCommand.Report(options.ConfigFile))
            {
                return 1;
            }

            if (!Directory.Exists($"/sys/class/net/{options.Interface}"))
            {
                Console.Error.WriteLine($"fulcrum run: no interface '{options.Interface}' in this network namespace");
                return 2;
            }

            using var host = DirectorHost.Build(options);
            host.Run();
            return 0;
        });
        return command;
    }
}
