using System.CommandLine;
using Fulcrum.Config;

namespace Fulcrum.Cli;

/// <summary>`fulcrum check-config -f FILE`: validates a keepalived.conf; errors as file:line:column.</summary>
internal static class CheckConfigCommand
{
    public static Command Create()
    {
        var file = new Option<string>("--config-file", "-f") { Description = "keepalived.conf to check", Required = true };
        var command = new Command("check-config", "Validate a keepalived.conf (errors as file:line:column; exit 1 on error)") { file };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            if (!Report(path))
            {
                return 1;
            }

            Console.WriteLine($"{path}: configuration OK");
            return 0;
        });
        return command;
    }

    /// <summary>Prints every diagnostic on stderr; true when there is no error (warnings allowed).</summary>
    public static bool Report(string path)
    {
        var result = KeepalivedConfig.Load(path);
        foreach (var d in result.Diagnostics)
        {
            Console.Error.WriteLine(d.ToString());
        }

        return result.Success;
    }
}
