using System.CommandLine;
using System.Net.Sockets;
using Fulcrum.Director;

namespace Fulcrum.Cli;

/// <summary>`fulcrum status`: the data plane's counters and the virtual services.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "machine-readable output" };
        var control = new Option<string>("--control")
        {
            Description = "control socket path",
            DefaultValueFactory = _ => ControlProtocol.DefaultSocketPath,
        };
        var command = new Command("status", "Show the director's state and counters") { json, control };
        command.SetAction(parse =>
        {
            string[] args = parse.GetValue(json) ? ["--json"] : [];
            try
            {
                var response = ControlProtocol.CallAsync(parse.GetValue(control)!, new ControlProtocol.Request("status", args, ""), CancellationToken.None)
                    .GetAwaiter().GetResult();
                Console.Out.Write(response.Stdout);
                Console.Error.Write(response.Stderr);
                return response.ExitCode;
            }
            catch (SocketException ex)
            {
                Console.Error.WriteLine($"fulcrum status: no director at {parse.GetValue(control)} ({ex.Message})");
                return 2;
            }
        });
        return command;
    }
}
