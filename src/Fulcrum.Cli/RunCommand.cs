using System.CommandLine;
using Fulcrum.Director;
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
        var driver = new Option<string>("--driver")
        {
            Description = "data path: auto, tc, xdp, xdp-generic (kernel tier for established flows + C#) or afpacket (C# only)",
            DefaultValueFactory = _ => "auto",
        };
        driver.AcceptOnlyFromAmong(Fulcrum.Linux.Bpf.KernelDriver.Names);
        var command = new Command("run", "Run the director daemon") { config, iface, control, driver };
        command.SetAction(parse =>
        {
            var options = new DirectorOptions
            {
                Interface = parse.GetValue(iface)!,
                ControlSocketPath = parse.GetValue(control)!,
                ConfigFile = parse.GetValue(config),
                Driver = parse.GetValue(driver)!,
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
