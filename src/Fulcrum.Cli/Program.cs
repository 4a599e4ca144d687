using System.CommandLine;

namespace Fulcrum.Cli;

internal static class Program
{
    public static int Main(string[] args)
    {
        // `fulcrum adm` takes ipvsadm's arguments verbatim (popt's grammar: -Ln bundles, -h is
        // ipvsadm's help, -p takes an optional value), so it bypasses System.CommandLine entirely.
        if (args.Length > 0 && args[0] == "adm")
        {
            return AdmCommand.Run(args.AsSpan(1));
        }

        var root = new RootCommand("Fulcrum: an LVS-style layer-4 load balancer (director) in user space.");
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(new Command("adm", "ipvsadm, option for option: fulcrum adm [--control SOCK] ARGS..."));
        root.Subcommands.Add(StatusCommand.Create());
        root.Subcommands.Add(CheckConfigCommand.Create());
        foreach (var command in ExtraCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        return root.Parse(args).Invoke();
    }
}
