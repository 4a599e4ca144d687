using System.CommandLine;
using System.Net;
using Fulcrum.Lab;
using Fulcrum.RealServerSetup;

namespace Fulcrum.Cli;

/// <summary>`fulcrum realserver` and `fulcrum lab`.</summary>
internal static class ExtraCommands
{
    public static IEnumerable<Command> Create() => [RealServer(), LabCommand.Create()];

    private static Command RealServer()
    {
        var vip = new Option<string>("--vip") { Description = "the virtual IP to hold on lo", Required = true };
        var dev = new Option<string?>("--dev") { Description = "the interface facing the director (default: the one with the default route)" };
        var tun = new Option<bool>("--tun") { Description = "prepare for TUN (IP-in-IP) instead of DR" };

        var up = new Command("up", "Put the VIP on lo and silence ARP for it (arp_ignore=1, arp_announce=2)") { vip, dev, tun };
        up.SetAction(parse => Guard(() =>
        {
            RealServerConfigurator.ForCurrentNamespace().Up(ParseVip(parse.GetValue(vip)!), parse.GetValue(dev), parse.GetValue(tun));
            return 0;
        }));
        var down = new Command("down", "Undo exactly what `up` changed") { vip };
        down.SetAction(parse => Guard(() =>
        {
            if (!RealServerConfigurator.ForCurrentNamespace().Down(ParseVip(parse.GetValue(vip)!)))
            {
                Console.Error.WriteLine($"fulcrum realserver: {parse.GetValue(vip)} was not set up here; nothing to undo");
            }

            return 0;
        }));
        return new Command("realserver", "Prepare this host as a DR/TUN real server") { up, down };
    }

    private static IPAddress ParseVip(string text) =>
        IPAddress.TryParse(text, out var address) ? address : throw new ArgumentException($"'{text}' is not an IP address");

    internal static int Guard(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"fulcrum: {ex.Message}");
            return 1;
        }
    }
}
