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
        var syncPeers = new Option<string[]>("--sync-peer")
        {
            Description = "connection sync: also send to this unicast peer (ADDR or ADDR:PORT; repeatable)",
            AllowMultipleArgumentsPerToken = false,
        };
        var syncKey = new Option<string?>("--sync-auth-key-file")
        {
            Description = "connection sync: HMAC-SHA256 key file; messages are signed and unsigned ones dropped (not kernel-compatible)",
        };
        var sloppy = new Option<bool>("--sloppy-tcp")
        {
            Description = "as sysctl net.ipv4.vs.sloppy_tcp=1: schedule TCP segments without SYN too (takeover without sync, with mh/sh)",
        };
        var command = new Command("run", "Run the director daemon") { config, iface, control, syncPeers, syncKey, sloppy };
        command.SetAction(parse =>
        {
            var options = new DirectorOptions
            {
                Interface = parse.GetValue(iface)!,
                ControlSocketPath = parse.GetValue(control)!,
                ConfigFile = parse.GetValue(config),
                Sync = SyncOptionsFrom(parse.GetValue(syncPeers), parse.GetValue(syncKey)),
                SloppyTcp = parse.GetValue(sloppy),
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

    private static Sync.SyncOptions SyncOptionsFrom(string[]? peers, string? keyFile)
    {
        var list = new List<System.Net.IPEndPoint>();
        foreach (var p in peers ?? [])
        {
            if (System.Net.IPEndPoint.TryParse(p, out var ep))
                list.Add(ep);
            else
                throw new ArgumentException($"--sync-peer {p}: not ADDR or ADDR:PORT");
        }
        return new Sync.SyncOptions
        {
            Peers = list,
            AuthKey = keyFile is null ? ReadOnlyMemory<byte>.Empty : File.ReadAllBytes(keyFile),
        };
    }
}
