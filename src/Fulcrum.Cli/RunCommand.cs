using System.CommandLine;
using Fulcrum.Balancing;
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
        var fwmarkRules = new Option<string?>("--fwmark-rules")
        {
            Description = "rules giving destinations a firewall mark for fwmark services (nft syntax: ip daddr A tcp dport { 80, 443 } meta mark set 1)",
        };
        var command = new Command("run", "Run the director daemon") { config, iface, control, fwmarkRules };
        command.SetAction(parse =>
        {
            var options = new DirectorOptions
            {
                Interface = parse.GetValue(iface)!,
                ControlSocketPath = parse.GetValue(control)!,
                ConfigFile = parse.GetValue(config),
                FwMarkRulesFile = parse.GetValue(fwmarkRules),
            };
            if (options.ConfigFile is not null && !CheckConfigCommand.Report(options.ConfigFile))
            {
                return 1;
            }

            if (options.FwMarkRulesFile is not null && !ReportMarkRules(options.FwMarkRulesFile))
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

    /// <summary>Prints the rules file's errors on stderr (file:line:column); true when there is none.</summary>
    private static bool ReportMarkRules(string path)
    {
        var errors = new List<FwMarkRuleError>();
        try
        {
            FwMarkRules.Load(path, errors);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"{path}: {ex.Message}");
            return false;
        }

        foreach (var e in errors)
        {
            Console.Error.WriteLine(e.ToString());
        }

        return errors.Count == 0;
    }
}
